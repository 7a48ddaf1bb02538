/**
 * Typed helpers for the ONNX operators the decoder builders use. Every helper adds one node to
 * the graph and returns the name of its output; the optional last argument `out` names that
 * output (for graph outputs such as `logits`). Integer list arguments (axes, shapes, starts...)
 * given as `number[]` become int64 constant initializers; a `string` is used as a value name.
 */
import { GraphBuilder } from './graph-builder';
import { attr, type AttributeValue, type OnnxDataTypeCode } from './onnx-types';

/** An int64 tensor argument: literal values or the name of a value in the graph. */
export type IntsArg = readonly number[] | string;

/** Largest int64, used as an open slice end. */
export const INT64_MAX = Number.MAX_SAFE_INTEGER;

/** Operator helpers bound to one {@link GraphBuilder}. */
export class Ops {
  /** @param g the graph nodes are added to */
  constructor(readonly g: GraphBuilder) {}

  private one(op: string, inputs: readonly string[], attrs: Record<string, AttributeValue> = {}, out?: string): string {
    return this.g.node(op, inputs, attrs, out ? { outputs: [out] } : {})[0];
  }

  private ints(v: IntsArg): string {
    return typeof v === 'string' ? v : this.g.constInt64(v);
  }

  /** MatMul (numpy-style batched matrix product). */
  matMul(a: string, b: string, out?: string): string {
    return this.one('MatMul', [a, b], {}, out);
  }
  /** Gemm: alpha * op(A) * op(B) + beta * C on 2-D inputs. */
  gemm(a: string, b: string, c: string | undefined, opts: { transA?: boolean; transB?: boolean } = {}, out?: string): string {
    const attrs: Record<string, AttributeValue> = {};
    if (opts.transA) attrs.transA = attr.int(1);
    if (opts.transB) attrs.transB = attr.int(1);
    return this.one('Gemm', c ? [a, b, c] : [a, b], attrs, out);
  }
  /** Elementwise Add (broadcasting). */
  add(a: string, b: string, out?: string): string {
    return this.one('Add', [a, b], {}, out);
  }
  /** Elementwise Sub. */
  sub(a: string, b: string, out?: string): string {
    return this.one('Sub', [a, b], {}, out);
  }
  /** Elementwise Mul. */
  mul(a: string, b: string, out?: string): string {
    return this.one('Mul', [a, b], {}, out);
  }
  /** Elementwise Div. */
  div(a: string, b: string, out?: string): string {
    return this.one('Div', [a, b], {}, out);
  }
  /** Elementwise Pow. */
  pow(a: string, b: string, out?: string): string {
    return this.one('Pow', [a, b], {}, out);
  }
  /** Elementwise Sqrt. */
  sqrt(x: string, out?: string): string {
    return this.one('Sqrt', [x], {}, out);
  }
  /** Elementwise Reciprocal. */
  reciprocal(x: string, out?: string): string {
    return this.one('Reciprocal', [x], {}, out);
  }
  /** Elementwise Neg. */
  neg(x: string, out?: string): string {
    return this.one('Neg', [x], {}, out);
  }
  /** Elementwise Sigmoid. */
  sigmoid(x: string, out?: string): string {
    return this.one('Sigmoid', [x], {}, out);
  }
  /** Elementwise Tanh. */
  tanh(x: string, out?: string): string {
    return this.one('Tanh', [x], {}, out);
  }
  /** Elementwise Erf. */
  erf(x: string, out?: string): string {
    return this.one('Erf', [x], {}, out);
  }
  /** Elementwise Cos. */
  cos(x: string, out?: string): string {
    return this.one('Cos', [x], {}, out);
  }
  /** Elementwise Sin. */
  sin(x: string, out?: string): string {
    return this.one('Sin', [x], {}, out);
  }
  /** Elementwise Relu. */
  relu(x: string, out?: string): string {
    return this.one('Relu', [x], {}, out);
  }
  /** Identity. */
  identity(x: string, out?: string): string {
    return this.one('Identity', [x], {}, out);
  }
  /** ReduceMean over `axes` (attribute before opset 18, input from 18). */
  reduceMean(x: string, axes: readonly number[], keepdims = true, out?: string): string {
    const kd = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (this.g.opset >= 18) return this.one('ReduceMean', [x, this.ints(axes)], kd, out);
    return this.one('ReduceMean', [x], { ...kd, axes: attr.ints(axes) }, out);
  }
  /** Softmax along `axis`. */
  softmax(x: string, axis = -1, out?: string): string {
    return this.one('Softmax', [x], { axis: attr.int(axis) }, out);
  }
  /** Concat along `axis`. */
  concat(xs: readonly string[], axis: number, out?: string): string {
    return this.one('Concat', xs, { axis: attr.int(axis) }, out);
  }
  /** Split into parts of the given sizes along `axis`; returns one name per part. */
  split(x: string, sizes: readonly number[], axis: number, outs?: readonly string[]): string[] {
    const attrs = { axis: attr.int(axis) };
    const opts = outs ? { outputs: outs } : { outputCount: sizes.length };
    return this.g.node('Split', [x, this.g.constInt64(sizes)], attrs, opts);
  }
  /** Gather along `axis`. */
  gather(data: string, indices: string, axis = 0, out?: string): string {
    return this.one('Gather', [data, indices], { axis: attr.int(axis) }, out);
  }
  /** Reshape (0 copies the input dimension, -1 is inferred). */
  reshape(x: string, shape: IntsArg, out?: string): string {
    return this.one('Reshape', [x, this.ints(shape)], {}, out);
  }
  /** Transpose with permutation `perm`. */
  transpose(x: string, perm: readonly number[], out?: string): string {
    return this.one('Transpose', [x], { perm: attr.ints(perm) }, out);
  }
  /** Shape, optionally of the dimensions [start, end). */
  shape(x: string, start?: number, end?: number, out?: string): string {
    const attrs: Record<string, AttributeValue> = {};
    if (start !== undefined) attrs.start = attr.int(start);
    if (end !== undefined) attrs.end = attr.int(end);
    return this.one('Shape', [x], attrs, out);
  }
  /** Slice: `starts`/`ends` per axis in `axes`, optional `steps`. */
  slice(x: string, starts: IntsArg, ends: IntsArg, axes: IntsArg, steps?: IntsArg, out?: string): string {
    const inputs = [x, this.ints(starts), this.ints(ends), this.ints(axes)];
    if (steps !== undefined) inputs.push(this.ints(steps));
    return this.one('Slice', inputs, {}, out);
  }
  /** Unsqueeze at `axes` (axes as an input, opset 13+). */
  unsqueeze(x: string, axes: IntsArg, out?: string): string {
    return this.one('Unsqueeze', [x, this.ints(axes)], {}, out);
  }
  /** Squeeze at `axes`. */
  squeeze(x: string, axes: IntsArg, out?: string): string {
    return this.one('Squeeze', [x, this.ints(axes)], {}, out);
  }
  /** Where(cond, a, b). */
  where(cond: string, a: string, b: string, out?: string): string {
    return this.one('Where', [cond, a, b], {}, out);
  }
  /** Cast to element type `to`. */
  cast(x: string, to: OnnxDataTypeCode, out?: string): string {
    return this.one('Cast', [x], { to: attr.int(to) }, out);
  }
  /** Range(start, limit, delta) on scalars. */
  range(start: string, limit: string, delta: string, out?: string): string {
    return this.one('Range', [start, limit, delta], {}, out);
  }
  /** Expand to a (broadcast-compatible) shape. */
  expand(x: string, shape: IntsArg, out?: string): string {
    return this.one('Expand', [x, this.ints(shape)], {}, out);
  }
  /** Elementwise Equal. */
  equal(a: string, b: string, out?: string): string {
    return this.one('Equal', [a, b], {}, out);
  }
  /** Elementwise Less. */
  less(a: string, b: string, out?: string): string {
    return this.one('Less', [a, b], {}, out);
  }
  /** Elementwise LessOrEqual. */
  lessOrEqual(a: string, b: string, out?: string): string {
    return this.one('LessOrEqual', [a, b], {}, out);
  }
  /** Elementwise logical And. */
  and(a: string, b: string, out?: string): string {
    return this.one('And', [a, b], {}, out);
  }
  /** Elementwise logical Not. */
  not(x: string, out?: string): string {
    return this.one('Not', [x], {}, out);
  }
  /** Trilu: lower (upper = false) or upper triangle with diagonal offset `k`. */
  trilu(x: string, upper: boolean, k?: string, out?: string): string {
    return this.one('Trilu', k ? [x, k] : [x], { upper: attr.int(upper ? 1 : 0) }, out);
  }
  /** LayerNormalization (opset 17) over the last axis. */
  layerNormalization(x: string, scale: string, bias: string | undefined, epsilon: number, out?: string): string {
    const inputs = bias ? [x, scale, bias] : [x, scale];
    return this.one('LayerNormalization', inputs, { axis: attr.int(-1), epsilon: attr.float(epsilon) }, out);
  }
  /**
   * ONNX Runtime's SimplifiedLayerNormalization (RMSNorm, registered by ORT in the default
   * domain). Not a standard ONNX operator: other runtimes may not have it.
   */
  simplifiedLayerNormalization(x: string, scale: string, epsilon: number, out?: string): string {
    return this.one('SimplifiedLayerNormalization', [x, scale], { axis: attr.int(-1), epsilon: attr.float(epsilon) }, out);
  }
}
