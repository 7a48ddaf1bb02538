/** Loading a model into an ONNX Runtime session owned by the addon, and the loaded model. */
import { resolveAllowSpinning } from '../config/session';
import { AutocontrastError, InvalidArgTypeError, OutOfRangeError } from '../errors';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { RuntimeSurface, SpinningStats } from '../kernel/addon';
import { checkManifest } from '../model/manifest/check-manifest';
import { keyRotationOf } from '../model/manifest/key-rotation';
import { ModelFolderError } from '../model/manifest/model-folder-error';
import { blockName, MANIFEST_FILE, type ModelManifest } from '../model/manifest/manifest-types';
import { addonOrThrow, cudaDir } from './library';
import { Sequence } from './sequence';
import type { GraphDescription, LoadOptions, SequenceOptions } from './types';

/** The graph description of a model folder whose manifest was already read and checked (by `load`). */
export function describeFromManifest(dir: string, m: ModelManifest): GraphDescription {
  const io = m.graph.io;
  return {
    graphPath: join(dir, m.graph.file),
    numLayers: m.numLayers,
    numKvHeads: m.numKvHeads,
    headDim: m.headDim,
    vocabSize: m.vocabSize,
    hiddenSize: m.hiddenSize,
    contextLength: m.contextLength,
    logitPositions: m.graph.logitPositions,
    names: { ...io },
    exits: m.exits.map((e) => ({ layer: e.layer, hiddenOutput: e.hiddenOutput, logitsOutput: e.logitsOutput })),
    keyRotation: keyRotationOf(m),
  };
}

/** Reads and checks a model folder's manifest (the runtime's needs only; `validateModelFolder` checks more). */
export function readManifest(dir: string): ModelManifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new ModelFolderError(dir, [`${MANIFEST_FILE} is missing`]);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelFolderError(dir, [`${MANIFEST_FILE}: not valid JSON (${(e as Error).message})`]);
  }
  const problems = checkManifest(value);
  if (problems.length) throw new ModelFolderError(dir, problems.map((p) => `${MANIFEST_FILE}: ${p}`));
  return value as ModelManifest;
}

function toRaw(d: GraphDescription, o: LoadOptions): object {
  const n = d.names ?? {};
  const list = (tpl: string) => Array.from({ length: d.numLayers }, (_, i) => blockName(tpl, i));
  const positions = d.logitPositions ?? 'all';
  return {
    graphPath: resolve(d.graphPath),
    ...(d.graphBytes ? { graphBytes: d.graphBytes } : {}),
    ...(d.outputHead ? { outputHead: d.outputHead } : {}),
    numLayers: d.numLayers,
    numKvHeads: d.numKvHeads,
    headDim: d.headDim,
    vocabSize: d.vocabSize,
    hiddenSize: d.hiddenSize,
    contextLength: d.contextLength,
    logitPositions: positions,
    inputIds: n.inputIds ?? 'input_ids',
    attentionMask: n.attentionMask ?? 'attention_mask',
    positionIds: n.positionIds ?? 'position_ids',
    numLogitsToKeep: positions === 'input' ? (n.numLogitsToKeep ?? 'num_logits_to_keep') : undefined,
    logits: n.logits ?? 'logits',
    pastKey: list(n.pastKey ?? 'past_key_values.{i}.key'),
    pastValue: list(n.pastValue ?? 'past_key_values.{i}.value'),
    presentKey: list(n.presentKey ?? 'present.{i}.key'),
    presentValue: list(n.presentValue ?? 'present.{i}.value'),
    exits: d.exits ?? [],
    ...(d.keyRotation ? { keyRotation: { invFreq: Float64Array.from(d.keyRotation.invFreq), interleaved: d.keyRotation.interleaved } } : {}),
    intraOpThreads: o.intraOpThreads,
    interOpThreads: o.interOpThreads,
    allowSpinning: o.allowSpinning,
    optimizationLevel: o.optimizationLevel,
    device: o.device ?? 'cpu',
    deviceId: o.deviceId ?? 0,
    cudaDir: o.device === 'cuda' ? cudaDir() : undefined,
  };
}

/**
 * Loads a model: a model folder (with `autocontrast.json`) or a {@link GraphDescription}. The session is created
 * on a worker thread. Throws when the runtime is unavailable (see {@link runtimeStatus}) or the graph does not
 * match the description (missing or unexpected inputs/outputs, wrong static shapes), with ONNX Runtime's message.
 */
export async function loadModel(source: string | GraphDescription, options: LoadOptions = {}): Promise<RuntimeModel> {
  if (options.device !== undefined && options.device !== 'cpu' && options.device !== 'cuda') {
    throw new OutOfRangeError(`device must be 'cpu' or 'cuda', got ${String(options.device)}`);
  }
  if (options.deviceId !== undefined && (!Number.isInteger(options.deviceId) || options.deviceId < 0)) {
    throw new OutOfRangeError(`deviceId must be a non-negative integer, got ${options.deviceId}`);
  }
  const allowSpinning = resolveAllowSpinning(options.allowSpinning);
  const addon = addonOrThrow(options.libraryPath);
  const desc = typeof source === 'string' ? describeFromManifest(resolve(source), readManifest(resolve(source))) : source;
  const raw = await addon.rtLoadModel(toRaw(desc, { ...options, allowSpinning }));
  // The runtime copied the output head's codes and scales: the description keeps only the hidden output's name.
  const kept: GraphDescription = desc.outputHead ? { ...desc, outputHead: { hiddenOutput: desc.outputHead.hiddenOutput, codes: new Int8Array(0), scales: new Float32Array(0) } } : desc;
  return new RuntimeModel(addon, raw.handle, kept, raw.inputs, raw.outputs, raw.threads, options.device ?? 'cpu', raw.outputHead === 'q8' ? 'q8' : 'graph');
}

/** A loaded model (one ONNX Runtime session), shared by any number of sequences, also concurrently. */
export class RuntimeModel {
  #addon: RuntimeSurface;
  #handle: unknown;
  #disposed = false;
  /** The graph description used. */
  readonly description: GraphDescription;
  /** Graph input names. */
  readonly inputNames: readonly string[];
  /** Graph output names. */
  readonly outputNames: readonly string[];
  /** Intra-op threads of the session. */
  readonly threads: number;
  /** Where the session runs and the sequences keep their buffers. */
  readonly device: 'cpu' | 'cuda';
  /**
   * Which head computes the logits: `graph` (the graph's own product) or `q8` (the runtime's int8-block kernel on
   * the head's exact 8-bit values, {@link GraphDescription.outputHead}).
   */
  readonly outputHead: 'graph' | 'q8';

  /** @internal Use {@link loadModel}. */
  constructor(
    addon: RuntimeSurface,
    handle: unknown,
    d: GraphDescription,
    inputs: string[],
    outputs: string[],
    threads: number,
    device: 'cpu' | 'cuda' = 'cpu',
    outputHead: 'graph' | 'q8' = 'graph',
  ) {
    this.device = device;
    this.outputHead = outputHead;
    this.#addon = addon;
    this.#handle = handle;
    this.description = d;
    this.inputNames = inputs;
    this.outputNames = outputs;
    this.threads = threads;
  }

  /** Whether {@link dispose} was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Creates a decoding state with its own KV cache of `batch x maxLength` positions (allocated now, both
   * ping-pong halves: see {@link Sequence.kvBytes}).
   */
  createSequence(options: SequenceOptions): Sequence {
    if (this.#disposed) throw new AutocontrastError('AC_INVALID_STATE', 'RuntimeModel was disposed');
    const { batch, maxLength, exit, exits } = options;
    if (!Number.isInteger(batch) || batch < 1) throw new OutOfRangeError(`batch must be a positive integer, got ${batch}`);
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new OutOfRangeError(`maxLength must be a positive integer, got ${maxLength}`);
    if (maxLength > this.description.contextLength) {
      throw new OutOfRangeError(`maxLength ${maxLength} exceeds the model's context length ${this.description.contextLength}`);
    }
    if (exits !== undefined && !Array.isArray(exits)) throw new InvalidArgTypeError('exits must be an array of { layer, logits?, hidden? }');
    const all = [...(exit ? [exit] : []), ...(exits ?? [])];
    const seen = new Set<number>();
    for (const e of all) {
      if (!e || typeof e !== 'object' || !Number.isInteger(e.layer)) throw new InvalidArgTypeError(`an exit must be { layer: integer, logits?, hidden? }, got ${JSON.stringify(e)}`);
      if (seen.has(e.layer)) throw new OutOfRangeError(`exit ${e.layer} is requested twice`);
      seen.add(e.layer);
    }
    const raw = this.#addon.rtCreateSequence(this.#handle, {
      batch,
      maxLength,
      ...(exit ? { exitLayer: exit.layer, exitLogits: exit.logits ?? true, exitHidden: exit.hidden ?? false } : {}),
      ...(exits?.length ? { exits: exits.map((e) => ({ layer: e.layer, logits: e.logits ?? true, hidden: e.hidden ?? false })) } : {}),
    });
    return new Sequence(this.#addon, raw, batch, maxLength, this.description.vocabSize);
  }

  /**
   * `allowSpinning: 'auto'`: how many decode steps ran, how many of them in the spinning twin session and how
   * many were probes, and whether the twin exists (all zero and false with the other settings).
   */
  spinningStats(): SpinningStats {
    if (this.#disposed) throw new AutocontrastError('AC_INVALID_STATE', 'RuntimeModel was disposed');
    if (!this.#addon.rtSpinStats) throw new AutocontrastError('AC_INVALID_STATE', 'the loaded addon predates spinningStats (rebuild it)');
    return this.#addon.rtSpinStats(this.#handle);
  }

  /** Releases the session once no sequence uses it any more. Later calls on this model throw. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#addon.rtDisposeModel(this.#handle);
  }
}
