/**
 * Small building blocks shared by the decoder builders: norms, activations, MLPs and the
 * vocabulary projection.
 */
import type { Ops } from './onnx/ops';

/** LayerNorm over the last axis (ONNX LayerNormalization, opset 17). */
export function layerNorm(ops: Ops, x: string, weight: string, bias: string, eps: number, out?: string): string {
  return ops.layerNormalization(x, weight, bias, eps, out);
}

/**
 * RMSNorm over the last axis: `x / sqrt(mean(x^2) + eps) * weight`, written with the
 * Pow/ReduceMean/Add/Sqrt/Div/Mul pattern that ONNX Runtime fuses into SimplifiedLayerNormalization.
 */
export function rmsNorm(ops: Ops, x: string, weight: string, eps: number, out?: string): string {
  const g = ops.g;
  const ms = ops.reduceMean(ops.pow(x, g.scalar(2)), [-1], true);
  const denom = ops.sqrt(ops.add(ms, g.scalar(eps)));
  return ops.mul(ops.div(x, denom), weight, out);
}

/** GELU, tanh approximation (`gelu_new`): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(ops: Ops, x: string): string {
  const g = ops.g;
  const cube = ops.pow(x, g.scalar(3));
  const inner = ops.mul(ops.add(x, ops.mul(cube, g.scalar(0.044715))), g.scalar(Math.sqrt(2 / Math.PI)));
  const t = ops.add(ops.tanh(inner), g.scalar(1));
  return ops.mul(ops.mul(x, g.scalar(0.5)), t);
}

/** GELU, exact: 0.5 x (1 + erf(x / sqrt 2)). */
export function geluErf(ops: Ops, x: string): string {
  const g = ops.g;
  const e = ops.add(ops.erf(ops.div(x, g.scalar(Math.SQRT2))), g.scalar(1));
  return ops.mul(ops.mul(x, g.scalar(0.5)), e);
}

/** SiLU: x * sigmoid(x). */
export function silu(ops: Ops, x: string): string {
  return ops.mul(x, ops.sigmoid(x));
}

/** `x W (+ b)` for a weight already laid out `[in, out]`. */
export function linear(ops: Ops, x: string, weight: string, bias?: string, out?: string): string {
  if (!bias) return ops.matMul(x, weight, out);
  return ops.add(ops.matMul(x, weight), bias, out);
}

/**
 * Projects `[batch, positions, d]` onto a `[rows, d]` matrix (embedding / LM head layout, used
 * without a transposed copy): Gemm(transB) on the flattened rows, reshaped to `[batch, positions, rows]`.
 */
export function projectRows(
  ops: Ops,
  x: string,
  matrix: string,
  rows: number,
  hidden: number,
  bias?: string,
  out?: string,
): string {
  const flat = ops.reshape(x, [-1, hidden]);
  const y = ops.gemm(flat, matrix, bias, { transB: true });
  const shape = ops.concat([ops.shape(x, 0, 2), ops.g.constInt64([rows])], 0);
  return ops.reshape(y, shape, out);
}
