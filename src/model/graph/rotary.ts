/**
 * Rotary position embeddings (RoPE) from `position_ids`, in the two pairing layouts
 * (see {@link RotaryLayout}).
 */
import type { RotaryLayout } from './decoder-config';
import { OnnxDataType } from './onnx/onnx-types';
import { Ops } from './onnx/ops';

/** cos/sin tables shaped to broadcast against `[batch, heads, seq, head_dim]` queries/keys. */
export interface RotaryTables {
  /** Pairing layout. */
  readonly layout: RotaryLayout;
  /** Head width. */
  readonly headDim: number;
  /** cos table (half: `[B,1,S,hd]`; interleaved: `[B,1,S,hd/2,1]`). */
  readonly cos: string;
  /** sin table, same shape as cos. */
  readonly sin: string;
}

/** The standard inverse frequencies theta^(-2i/headDim), i = 0..headDim/2-1. */
export function ropeInverseFrequencies(headDim: number, theta: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < headDim / 2; i++) out.push(Math.pow(theta, (-2 * i) / headDim));
  return out;
}

/** Builds cos/sin tables for the positions in `positionIds` (`[B, S]` int64). */
export function rotaryTables(
  ops: Ops,
  positionIds: string,
  headDim: number,
  invFreq: readonly number[],
  layout: RotaryLayout,
): RotaryTables {
  if (headDim % 2 !== 0) throw new RangeError(`rotary: head dim ${headDim} is odd`);
  if (invFreq.length !== headDim / 2) throw new RangeError(`rotary: ${invFreq.length} inverse frequencies, ${headDim / 2} expected`);
  const pos = ops.unsqueeze(ops.cast(positionIds, OnnxDataType.FLOAT), [-1]); // [B,S,1]
  const freqs = ops.mul(pos, ops.g.constFloat(invFreq)); // [B,S,hd/2]
  if (layout === 'half') {
    const emb = ops.concat([freqs, freqs], -1); // [B,S,hd]
    return { layout, headDim, cos: ops.unsqueeze(ops.cos(emb), [1]), sin: ops.unsqueeze(ops.sin(emb), [1]) };
  }
  return { layout, headDim, cos: ops.unsqueeze(ops.cos(freqs), [1, 4]), sin: ops.unsqueeze(ops.sin(freqs), [1, 4]) };
}

/** Rotates `x` (`[B, heads, S, hd]`) by the tables. */
export function applyRotary(ops: Ops, x: string, t: RotaryTables): string {
  const half = t.headDim / 2;
  if (t.layout === 'half') {
    const x1 = ops.slice(x, [0], [half], [-1]);
    const x2 = ops.slice(x, [half], [t.headDim], [-1]);
    const rotated = ops.concat([ops.neg(x2), x1], -1);
    return ops.add(ops.mul(x, t.cos), ops.mul(rotated, t.sin));
  }
  const pairs = ops.reshape(x, [0, 0, 0, half, 2]);
  const even = ops.slice(pairs, [0], [1], [4]);
  const odd = ops.slice(pairs, [1], [2], [4]);
  const newEven = ops.sub(ops.mul(even, t.cos), ops.mul(odd, t.sin));
  const newOdd = ops.add(ops.mul(even, t.sin), ops.mul(odd, t.cos));
  return ops.reshape(ops.concat([newEven, newOdd], 4), [0, 0, 0, t.headDim]);
}
