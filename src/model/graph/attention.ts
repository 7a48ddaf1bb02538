/**
 * Multi-head / grouped-query causal self-attention with a KV cache, on projected q/k/v.
 */
import type { Ops } from './onnx/ops';
import { applyRotary, type RotaryTables } from './rotary';

/** Arguments of {@link selfAttention}. */
export interface AttentionArgs {
  /** Queries `[B, S, numHeads * headDim]`. */
  readonly q: string;
  /** Keys `[B, S, numKvHeads * headDim]`. */
  readonly k: string;
  /** Values `[B, S, numKvHeads * headDim]`. */
  readonly v: string;
  /** Query heads. */
  readonly numHeads: number;
  /** Key/value heads (divides numHeads). */
  readonly numKvHeads: number;
  /** Head width. */
  readonly headDim: number;
  /** Past key input `[B, kvH, P, hd]`. */
  readonly pastKey: string;
  /** Past value input. */
  readonly pastValue: string;
  /** Name of the present key output `[B, kvH, P+S, hd]`. */
  readonly presentKey: string;
  /** Name of the present value output. */
  readonly presentValue: string;
  /** Additive attention bias `[B, 1, S, P+S]`. */
  readonly bias: string;
  /** Score scale (default 1/sqrt(headDim)). */
  readonly scale?: number;
  /** Rotary tables applied to q and k, when the model uses RoPE. */
  readonly rotary?: RotaryTables;
}

/**
 * Attention over past + current keys. Query head h uses key/value head floor(h / (numHeads /
 * numKvHeads)), as Hugging Face's `repeat_kv`. Returns the context `[B, S, numHeads * headDim]`
 * (before the output projection).
 */
export function selfAttention(ops: Ops, a: AttentionArgs): string {
  const { numHeads: H, numKvHeads: KVH, headDim: hd } = a;
  if (H % KVH !== 0) throw new RangeError(`attention: ${H} heads not divisible by ${KVH} kv heads`);
  const rep = H / KVH;
  const g = ops.g;
  const heads = (x: string, n: number) => ops.transpose(ops.reshape(x, [0, 0, n, hd]), [0, 2, 1, 3]);
  let q = heads(a.q, H);
  let k = heads(a.k, KVH);
  const v = heads(a.v, KVH);
  if (a.rotary) {
    q = applyRotary(ops, q, a.rotary);
    k = applyRotary(ops, k, a.rotary);
  }
  const keys = ops.concat([a.pastKey, k], 2, a.presentKey);
  const values = ops.concat([a.pastValue, v], 2, a.presentValue);
  q = ops.mul(q, g.scalar(a.scale ?? 1 / Math.sqrt(hd)));
  const keysT = ops.transpose(keys, [0, 1, 3, 2]); // [B,KVH,hd,T]
  let context: string;
  if (rep === 1) {
    const scores = ops.add(ops.matMul(q, keysT), a.bias); // [B,H,S,T]
    context = ops.matMul(ops.softmax(scores, -1), values); // [B,H,S,hd]
  } else {
    const q5 = ops.reshape(q, [0, KVH, rep, -1, hd]); // [B,KVH,rep,S,hd]
    const scores = ops.add(ops.matMul(q5, ops.unsqueeze(keysT, [2])), ops.unsqueeze(a.bias, [1]));
    const ctx5 = ops.matMul(ops.softmax(scores, -1), ops.unsqueeze(values, [2])); // [B,KVH,rep,S,hd]
    context = ops.reshape(ctx5, [0, H, -1, hd]);
  }
  return ops.reshape(ops.transpose(context, [0, 2, 1, 3]), [0, 0, H * hd]);
}
