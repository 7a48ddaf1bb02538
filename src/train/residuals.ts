/**
 * Residual streams of a model folder, all positions of a chunk at once: the folder's graph, with the residuals a
 * fit needs declared as extra outputs (appended as a graph extension to a temporary copy of the graph file
 * beside the weights), run by ONNX Runtime with an empty past.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeGraphExtension } from '../model/graph/onnx/onnx-proto-encoder';
import { OnnxDataType } from '../model/graph/onnx/onnx-types';
import { blockName, type ModelManifest } from '../model/manifest/manifest-types';
import { FitError } from './fit-error';
import type { GraphTaps } from './graph-taps';
import { f32, i64, sessionOptions } from './ort-graph';

/** Reads residual streams chunk by chunk. */
export class ResidualReader {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly m: ModelManifest,
    private readonly fetch: ReadonlyMap<number, string>,
    private readonly kvHeads: number,
    private readonly headDim: number,
  ) {}

  /**
   * Opens the folder's graph with the residuals of `taps` as outputs.
   * @throws {FitError} E_FIT_GRAPH when the graph's outputs cover only the last position.
   */
  static async open(dir: string, m: ModelManifest, taps: GraphTaps, threads: number): Promise<ResidualReader> {
    if (m.graph.logitPositions === 'last') {
      throw new FitError('E_FIT_GRAPH', `${dir}: the graph outputs only the last position (logitPositions "last"); convert the model again (the default keeps all positions)`);
    }
    const outputs = [...taps.everyPosition].map(([L, name]) => ({ name, elemType: OnnxDataType.FLOAT, shape: ['batch', 'positions', m.hiddenSize] }));
    const bytes = Buffer.concat([await fs.readFile(path.join(dir, m.graph.file)), encodeGraphExtension({ nodes: [], initializers: [], outputs })]);
    // The external data is found beside the graph file, so the extended graph is written into the folder briefly.
    const tmp = path.join(dir, `.fit-residuals-${process.pid}-${randomBytes(4).toString('hex')}.onnx`);
    let session: ort.InferenceSession;
    try {
      await fs.writeFile(tmp, bytes);
      session = await ort.InferenceSession.create(tmp, sessionOptions(threads));
    } finally {
      await fs.rm(tmp, { force: true });
    }
    return new ResidualReader(session, m, taps.everyPosition, m.numKvHeads, m.headDim);
  }

  /** Residuals (`[seq x d]` per layer) of one sequence of token ids. */
  async run(tokens: Int32Array): Promise<Map<number, Float32Array>> {
    const S = tokens.length;
    const io = this.m.graph.io;
    const feeds: Record<string, ort.Tensor> = {
      [io.inputIds]: i64(tokens, [1, S]),
      [io.attentionMask]: i64(new Array<number>(S).fill(1), [1, S]),
      [io.positionIds]: i64(Array.from({ length: S }, (_, i) => i), [1, S]),
    };
    const empty = new Float32Array(0);
    for (let i = 0; i < this.m.numLayers; i++) {
      feeds[blockName(io.pastKey, i)] = f32(empty, [1, this.kvHeads, 0, this.headDim]);
      feeds[blockName(io.pastValue, i)] = f32(empty, [1, this.kvHeads, 0, this.headDim]);
    }
    // One logit row, not all: the fit reads residuals only, and the head over every position costs about a fifth
    // of the forward (`seq x V x d` multiply-adds) and writes `seq x V` floats.
    if (this.m.graph.logitPositions === 'input' && io.numLogitsToKeep) feeds[io.numLogitsToKeep] = i64([1], []);
    const r = await this.session.run(feeds, [...this.fetch.values()]);
    const out = new Map<number, Float32Array>();
    for (const [L, name] of this.fetch) out.set(L, r[name].data as Float32Array);
    return out;
  }

  /** Frees the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
