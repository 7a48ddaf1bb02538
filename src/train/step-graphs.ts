/**
 * The fitting graphs: the gradient of a linear head's next-token cross-entropy, the gradient of a tuned lens's
 * KL divergence to the final layer, the least-squares statistics of the linear shortcut, and the validation
 * scores. Every graph returns sums over its rows (the caller divides by the batch's row count), so micro-batches
 * accumulate exactly into one optimiser step.
 */
import { attr } from '../model/graph/onnx/onnx-types';
import { OnnxDataType as T } from '../model/graph/onnx/onnx-types';
import type { Ops } from '../model/graph/onnx/ops';
import { exitHidden, type NormNames } from './exit-nodes';
import type { FinalNorm } from './graph-taps';
import { newGraph, type GraphParts } from './ort-graph';

const F = T.FLOAT;

/** Sizes of a fitting graph. */
export interface GraphDims {
  /** Hidden width d. */
  readonly d: number;
  /** Vocabulary V. */
  readonly V: number;
}

function reduce(ops: Ops, op: 'ReduceSum' | 'ReduceLogSumExp' | 'ReduceMean', x: string, axes: number[] | null, keep: boolean, out?: string): string {
  // opset 17: ReduceSum takes axes as an input, the others as an attribute
  const kd = { keepdims: attr.int(keep ? 1 : 0) };
  if (op === 'ReduceSum') {
    return ops.g.node(op, axes ? [x, ops.g.constInt64(axes)] : [x], kd, out ? { outputs: [out] } : {})[0];
  }
  return ops.g.node(op, [x], axes ? { ...kd, axes: attr.ints(axes) } : kd, out ? { outputs: [out] } : {})[0];
}

function normInputs(p: GraphParts, norm: FinalNorm, d: number): NormNames {
  return { weight: p.g.input('norm_weight', F, [d]), bias: norm.kind === 'layer' ? p.g.input('norm_bias', F, [d]) : undefined };
}

function exp(ops: Ops, x: string): string {
  return ops.g.node('Exp', [x])[0];
}

/** `log_softmax` rows of `z` and the log-sum-exp. */
function logSoftmax(ops: Ops, z: string): string {
  return ops.sub(z, reduce(ops, 'ReduceLogSumExp', z, [1], true));
}

/**
 * Cross-entropy gradient of a linear head on `finalNorm(h)`. Inputs: `h` [T, d] residuals, `y` [T] int64 next
 * tokens, `W` [V, d], `b` [V], the norm weights. Outputs: `loss_sum` (sum of -log p(y)), `grad_W` = (P - Y)^T n
 * [V, d], `grad_b` = column sums of (P - Y) [V].
 */
export function headStepGraph(norm: FinalNorm, { d, V }: GraphDims): GraphParts {
  const p = newGraph('fit_head_step');
  const { g, ops } = p;
  const h = g.input('h', F, ['rows', d]);
  const y = g.input('y', T.INT64, ['rows']);
  const W = g.input('W', F, [V, d]);
  const b = g.input('b', F, [V]);
  const n = exitHidden(ops, norm, normInputs(p, norm, d), h);
  const z = ops.gemm(n, W, b, { transB: true });
  // Few full passes over the rows x V logits: one softmax, one log-sum-exp, and the one-hot subtracted in place
  // by a scatter (no one-hot matrix).
  const yCol = ops.unsqueeze(y, [1]);
  const picked = g.node('GatherElements', [z, yCol], { axis: attr.int(1) })[0];
  ops.sub(reduce(ops, 'ReduceSum', reduce(ops, 'ReduceLogSumExp', z, [1], true), null, false), reduce(ops, 'ReduceSum', picked, null, false), 'loss_sum');
  const minusOne = ops.expand(g.constFloat([-1], [1, 1]), ops.shape(yCol));
  const grad = g.node('ScatterElements', [ops.softmax(z, 1), yCol, minusOne], { axis: attr.int(1), reduction: attr.string('add') })[0];
  ops.gemm(grad, n, undefined, { transA: true }, 'grad_W');
  reduce(ops, 'ReduceSum', grad, [0], false, 'grad_b');
  g.output('loss_sum', F, []);
  g.output('grad_W', F, [V, d]);
  g.output('grad_b', F, [V]);
  return p;
}

/**
 * KL(final || lens) gradient of a tuned-lens translator. Inputs: `h` [T, d] residuals of layer L, `h_final`
 * [T, d] residuals of the last block, `At` [d, d] (A transposed), `tb` [d], the output head `U` [V, d] and
 * `ub` [V], the norm weights. Outputs: `loss_sum` (sum over rows of KL), `grad_At` [d, d], `grad_tb` [d].
 * The final norm's backward pass is written out: with x̂ the normalised vector, r its root mean square
 * (of the centred vector for LayerNorm) and ĝ = dL/dn ⊙ weight,
 * dL/dY = (ĝ - x̂ mean(ĝ ⊙ x̂)) / r, minus mean(ĝ) / r for LayerNorm.
 */
export function lensStepGraph(norm: FinalNorm, { d, V }: GraphDims): GraphParts {
  const p = newGraph('fit_lens_step');
  const { g, ops } = p;
  const h = g.input('h', F, ['rows', d]);
  const hFinal = g.input('h_final', F, ['rows', d]);
  const At = g.input('At', F, [d, d]);
  const tb = g.input('tb', F, [d]);
  const U = g.input('U', F, [V, d]);
  const ub = g.input('ub', F, [V]);
  const names = normInputs(p, norm, d);
  const Y = ops.add(ops.matMul(h, At), tb);
  const centred = norm.kind === 'layer' ? ops.sub(Y, reduce(ops, 'ReduceMean', Y, [-1], true)) : Y;
  const r = ops.sqrt(ops.add(reduce(ops, 'ReduceMean', ops.mul(centred, centred), [-1], true), g.scalar(norm.epsilon)));
  const xhat = ops.div(centred, r);
  const n = names.bias ? ops.add(ops.mul(xhat, names.weight), names.bias) : ops.mul(xhat, names.weight);
  const logq = logSoftmax(ops, ops.gemm(n, U, ub, { transB: true }));
  const nFinal = exitHidden(ops, norm, names, hFinal);
  const logp = logSoftmax(ops, ops.gemm(nFinal, U, ub, { transB: true }));
  const pFinal = exp(ops, logp);
  reduce(ops, 'ReduceSum', ops.mul(pFinal, ops.sub(logp, logq)), null, false, 'loss_sum');
  const dz = ops.sub(exp(ops, logq), pFinal);
  const ghat = ops.mul(ops.matMul(dz, U), names.weight);
  let num = ops.sub(ghat, ops.mul(xhat, reduce(ops, 'ReduceMean', ops.mul(ghat, xhat), [-1], true)));
  if (norm.kind === 'layer') num = ops.sub(num, reduce(ops, 'ReduceMean', ghat, [-1], true));
  const dY = ops.div(num, r);
  ops.gemm(h, dY, undefined, { transA: true }, 'grad_At');
  reduce(ops, 'ReduceSum', dY, [0], false, 'grad_tb');
  g.output('loss_sum', F, []);
  g.output('grad_At', F, [d, d]);
  g.output('grad_tb', F, [d]);
  return p;
}

/**
 * Least-squares statistics of the linear shortcut for `layers` layers at once: inputs `x{i}` [T, d], `y` [T, d]
 * and `ones` [T, 1]; outputs `xx{i}` = X̃^T X̃ [d+1, d+1] and `xy{i}` = X̃^T Y [d+1, d], X̃ = [X, 1].
 */
export function linearStatsGraph(layers: number, d: number): GraphParts {
  const p = newGraph('fit_linear_stats');
  const { g, ops } = p;
  const y = g.input('y', F, ['rows', d]);
  const ones = g.input('ones', F, ['rows', 1]);
  for (let i = 0; i < layers; i++) {
    const x = ops.concat([g.input(`x${i}`, F, ['rows', d]), ones], 1);
    ops.gemm(x, x, undefined, { transA: true }, `xx${i}`);
    ops.gemm(x, y, undefined, { transA: true }, `xy${i}`);
    g.output(`xx${i}`, F, [d + 1, d + 1]);
    g.output(`xy${i}`, F, [d + 1, d]);
  }
  return p;
}

/**
 * Validation scores of an exit: inputs `h` [T, d] residuals, `y` [T] next tokens, the head `W` [V, d] and `b`
 * [V], the norm weights, and with `translated` the translator `At`, `tb`. Outputs `nll` [T] (-log p(y)) and
 * `top1` [T] (int64 arg-max).
 */
export function scoreGraph(norm: FinalNorm, { d, V }: GraphDims, translated: boolean): GraphParts {
  const p = newGraph('fit_score');
  const { g, ops } = p;
  const h = g.input('h', F, ['rows', d]);
  const y = g.input('y', T.INT64, ['rows']);
  const W = g.input('W', F, [V, d]);
  const b = g.input('b', F, [V]);
  const names = normInputs(p, norm, d);
  const tr = translated ? { At: g.input('At', F, [d, d]), tb: g.input('tb', F, [d]) } : undefined;
  const n = exitHidden(ops, norm, names, h, tr ? { At: tr.At, b: tr.tb } : undefined);
  const z = ops.gemm(n, W, b, { transB: true });
  const logp = logSoftmax(ops, z);
  const picked = g.node('GatherElements', [logp, ops.unsqueeze(y, [1])], { axis: attr.int(1) })[0];
  ops.neg(ops.squeeze(picked, [1]), 'nll');
  g.node('ArgMax', [z], { axis: attr.int(1), keepdims: attr.int(0) }, { outputs: ['top1'] });
  g.output('nll', F, ['rows']);
  g.output('top1', T.INT64, ['rows']);
  return p;
}
