/**
 * Declares the standard decoder inputs and derives what every block shares from them: the
 * additive attention bias (causal + padding from `attention_mask`, so left padding works).
 */
import type { GraphBuilder } from './onnx/graph-builder';
import { OnnxDataType } from './onnx/onnx-types';
import { INT64_MAX, Ops } from './onnx/ops';
import { DIM, IO, pastName } from './io-names';

/** Value names of the declared inputs and shared derived values. */
export interface DecoderInputs {
  /** `input_ids`. */
  readonly inputIds: string;
  /** `attention_mask`. */
  readonly attentionMask: string;
  /** `position_ids`. */
  readonly positionIds: string;
  /** Per block: past key/value input names. */
  readonly past: readonly { readonly key: string; readonly value: string }[];
  /** `num_logits_to_keep` when declared. */
  readonly numLogitsToKeep?: string;
}

/** Value added to masked attention scores (finite so fully masked padding rows stay finite). */
export const MASKED_SCORE = -1e9;

/** Declares `input_ids`, `attention_mask`, `position_ids` and the past cache inputs. */
export function declareDecoderInputs(
  g: GraphBuilder,
  numLayers: number,
  kvHeads: number,
  headDim: number,
  withLogitsToKeep: boolean,
): DecoderInputs {
  const I64 = OnnxDataType.INT64;
  const inputIds = g.input(IO.inputIds, I64, [DIM.batch, DIM.sequence]);
  const attentionMask = g.input(IO.attentionMask, I64, [DIM.batch, DIM.total]);
  const positionIds = g.input(IO.positionIds, I64, [DIM.batch, DIM.sequence]);
  const past = [];
  for (let i = 0; i < numLayers; i++) {
    const shape = [DIM.batch, kvHeads, DIM.past, headDim];
    past.push({
      key: g.input(pastName(i, 'key'), OnnxDataType.FLOAT, shape),
      value: g.input(pastName(i, 'value'), OnnxDataType.FLOAT, shape),
    });
  }
  const numLogitsToKeep = withLogitsToKeep ? g.input(IO.numLogitsToKeep, I64, []) : undefined;
  return { inputIds, attentionMask, positionIds, past, numLogitsToKeep };
}

/**
 * The additive attention bias `[batch, 1, seq, total]`: 0 where query i (absolute position
 * past + i) may attend key j (j <= past + i and attention_mask[b, j] = 1), {@link MASKED_SCORE}
 * elsewhere. With `window`, keys further than `window - 1` positions back are masked too (local
 * attention, as GPT-Neo's local layers).
 */
export function attentionBias(ops: Ops, inputs: DecoderInputs, window?: number): string {
  const g = ops.g;
  const zero = g.constInt64([0], []);
  const one = g.constInt64([1], []);
  const seq = ops.squeeze(ops.shape(inputs.inputIds, 1, 2), [0]);
  const total = ops.squeeze(ops.shape(inputs.attentionMask, 1, 2), [0]);
  const pastLen = ops.squeeze(ops.shape(inputs.past[0].key, 2, 3), [0]);
  const rows = ops.range(pastLen, ops.add(pastLen, seq), one); // [S] absolute query positions
  const cols = ops.range(zero, total, one); // [T] key positions
  const rowsCol = ops.unsqueeze(rows, [1]); // [S, 1]
  const colsRow = ops.unsqueeze(cols, [0]); // [1, T]
  let allowed = ops.lessOrEqual(colsRow, rowsCol); // [S, T]
  if (window !== undefined) {
    const lowest = ops.sub(rowsCol, g.constInt64([window], [])); // keys > row - window
    allowed = ops.and(allowed, ops.less(lowest, colsRow));
  }
  const pad = ops.unsqueeze(ops.cast(inputs.attentionMask, OnnxDataType.BOOL), [1, 2]); // [B,1,1,T]
  const both = ops.and(allowed, pad); // [B,1,S,T]
  return ops.where(both, g.scalar(0), g.scalar(MASKED_SCORE));
}

const keepStart = new WeakMap<DecoderInputs, string>();

/**
 * Keeps the positions selected by `logitPositions` of a `[batch, seq, d]` value: all, the last
 * one, or the last `num_logits_to_keep` (0 = all).
 */
export function selectPositions(ops: Ops, x: string, mode: 'all' | 'last' | 'input', inputs: DecoderInputs): string {
  if (mode === 'all') return x;
  if (mode === 'last') return ops.slice(x, [-1], [INT64_MAX], [1]);
  if (!inputs.numLogitsToKeep) throw new Error('num_logits_to_keep input not declared');
  // one start value for every output that selects positions (a graph with an exit per layer asks 31 times)
  let start = keepStart.get(inputs);
  if (!start) keepStart.set(inputs, (start = ops.neg(ops.unsqueeze(inputs.numLogitsToKeep, [0]))));
  return ops.slice(x, start, [INT64_MAX], [1]);
}
