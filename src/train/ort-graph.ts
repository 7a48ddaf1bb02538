/**
 * Small ONNX Runtime graphs built with the package's graph builder and run through onnxruntime-node (the same
 * ONNX Runtime library the native runtime drives): the training steps, the least-squares statistics and the
 * validation scores. Large matrix products run in ONNX Runtime's MLAS kernels (SIMD, threaded).
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../model/graph/onnx/graph-builder';
import { encodeModel } from '../model/graph/onnx/onnx-proto-encoder';
import type { TensorDef } from '../model/graph/onnx/onnx-types';
import { IR_VERSION } from '../model/graph/onnx/write-onnx-model';
import { Ops } from '../model/graph/onnx/ops';

/** A graph under construction with its op helpers. */
export interface GraphParts {
  readonly g: GraphBuilder;
  readonly ops: Ops;
}

/** A fresh graph (opset 17). */
export function newGraph(name: string): GraphParts {
  const g = new GraphBuilder(name, 17);
  return { g, ops: new Ops(g) };
}

/** Encodes a finished graph (initializers inline) as ONNX model bytes. */
export async function graphBytes(g: GraphBuilder): Promise<Uint8Array> {
  g.validate();
  const initializers: TensorDef[] = [];
  for (const i of g.initializers) initializers.push({ name: i.name, dataType: i.source.dataType, dims: i.source.dims, raw: await i.source.bytes() });
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImports: g.opsetImports(),
    producerName: 'autocontrast',
    producerVersion: '0.1.0',
    metadata: {},
    graph: { name: g.name, nodes: g.nodes, initializers, inputs: g.inputs, outputs: g.outputs },
  });
}

/** Session options shared by the fitting graphs: all optimisations, `threads` intra-op threads (0: ORT's default). */
export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  // No spinning: the pool's threads sleep between runs instead of burning a core (the fitting loop alternates
  // between ONNX Runtime and JavaScript, and shared machines run other work).
  const o: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  return threads > 0 ? { ...o, intraOpNumThreads: threads } : o;
}

/** An ONNX Runtime session on a graph built here. */
export async function graphSession(g: GraphBuilder, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(await graphBytes(g), sessionOptions(threads));
}

/** A float32 tensor over `data` (no copy). */
export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** An int64 tensor of `values`. */
export function i64(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
}

/** The float32 data of a session output. */
export function outF32(r: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const t = r[name];
  if (!t || t.type !== 'float32') throw new Error(`graph output ${name} is missing or not float32`);
  return t.data as Float32Array;
}
