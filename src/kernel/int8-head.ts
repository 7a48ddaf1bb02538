/**
 * The head in int8 per block of 32 values, packed for the int8 candidate projection of `dolaHead: 'int8'`
 * (native/kernels/head_i8.h, which states the layout and the arithmetic). Made once per head matrix and kept beside
 * it (a WeakMap on the matrix): a head already in int8 blocks ({@link CompactHead}, a GGUF Q8_0 head) keeps its own
 * codes and scales, so only the hidden states are approximated; any other head is quantised here, per block of 32:
 * scale = max |w| / 127 (float32), code = w / scale rounded to nearest, ties to even.
 *
 * Also the rule's restatement used by the TypeScript fallback and the tests: {@link quantiseBlocks} (the same
 * rounding as native's quantise_row) and {@link int8Dot}.
 */
import type { CompactHead } from './compact-head';
import { fromHalfBits } from './half';
import type { Dtype } from './types';

/** Head rows per packed tile. */
export const INT8_TILE_ROWS = 16;
/** Values per scale. */
export const INT8_BLOCK = 32;

/** A head `[V x d]` in packed int8 blocks (see native/kernels/head_i8.h). */
export interface Int8Head {
  /** `[ceil(V / 16) x d x 16]` codes, each `q + 128`. */
  readonly codes: Uint8Array;
  /** `[ceil(V / 16) x d / 32 x 16]` block scales. */
  readonly scales: Float32Array;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  /** True when the codes reproduce the head exactly (it was in int8 blocks already). */
  readonly exact: boolean;
}

const made = new WeakMap<object, Int8Head>();

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantises `n` values of `x` from `off` (n a multiple of 32) per block of 32 into `q` (from 0) and `scale`
 * (one per block): the rule of native quantise_row, in float32 steps.
 */
export function quantiseBlocks(x: ArrayLike<number>, off: number, n: number, q: Int8Array, scale: Float32Array): void {
  for (let b = 0; b < n / INT8_BLOCK; b++) {
    let amax = 0;
    for (let i = 0; i < INT8_BLOCK; i++) amax = Math.max(amax, Math.abs(x[off + b * INT8_BLOCK + i]));
    const t = Math.fround(amax / 127);
    scale[b] = t;
    for (let i = 0; i < INT8_BLOCK; i++) {
      const r = t > 0 ? roundHalfEven(Math.fround(x[off + b * INT8_BLOCK + i] / t)) : 0;
      q[b * INT8_BLOCK + i] = Math.min(127, Math.max(-127, r));
    }
  }
}

/** Head row `v`'s code at value `i` (`q`, not `q + 128`). */
export function int8Code(h: Int8Head, v: number, i: number): number {
  const d = h.hiddenSize;
  return h.codes[(v >> 4) * d * INT8_TILE_ROWS + (i >> 2) * 4 * INT8_TILE_ROWS + (v & 15) * 4 + (i & 3)] - 128;
}

/** Head row `v`'s scale of block `b`. */
export function int8Scale(h: Int8Head, v: number, b: number): number {
  return h.scales[((v >> 4) * (h.hiddenSize / INT8_BLOCK) + b) * INT8_TILE_ROWS + (v & 15)];
}

/**
 * The int8 product of head row `v` and a quantised hidden row (codes `xq`, block scales `xs`), in float64: the sum
 * over blocks of (integer block sum) x (head scale x hidden scale). The native kernel computes the same terms in
 * float (head_i8.h); this is the restatement the tests and the TypeScript fallback use.
 */
export function int8Dot(h: Int8Head, v: number, xq: Int8Array, xs: Float32Array): number {
  let acc = 0;
  for (let b = 0; b < h.hiddenSize / INT8_BLOCK; b++) {
    let s = 0;
    for (let i = b * INT8_BLOCK; i < (b + 1) * INT8_BLOCK; i++) s += int8Code(h, v, i) * xq[i];
    acc += s * Math.fround(int8Scale(h, v, b) * xs[b]);
  }
  return acc;
}

function isCompact(w: unknown): w is CompactHead {
  return typeof w === 'object' && w !== null && (w as CompactHead).q8 instanceof Int8Array && (w as CompactHead).scale instanceof Float32Array;
}

/**
 * The packed int8 form of a head `[V x d]` (d a multiple of 32; float32, float16 / bfloat16 bits, or its lossless
 * int8 block form), made on first use and then kept with the matrix.
 */
export function int8Head(weight: Float32Array | Uint16Array | CompactHead, vocabSize: number, hiddenSize: number, dtype: Dtype = 'float32'): Int8Head {
  const key = weight as object;
  const have = made.get(key);
  if (have && have.vocabSize === vocabSize && have.hiddenSize === hiddenSize) return have;
  const V = vocabSize, d = hiddenSize, nb = d / INT8_BLOCK;
  if (!Number.isInteger(nb) || nb < 1) throw new RangeError(`the int8 head needs the hidden size to be a multiple of 32, got ${d}`);
  const tiles = Math.ceil(V / INT8_TILE_ROWS);
  const codes = new Uint8Array(tiles * d * INT8_TILE_ROWS).fill(128);
  const scales = new Float32Array(tiles * nb * INT8_TILE_ROWS);
  const compact = isCompact(weight) ? weight : null;
  const row = new Float32Array(d);
  const q = new Int8Array(d);
  const s = new Float32Array(nb);
  for (let v = 0; v < V; v++) {
    if (compact) {
      q.set(compact.q8.subarray(v * d, (v + 1) * d));
      s.set(compact.scale.subarray(v * nb, (v + 1) * nb));
    } else {
      if (weight instanceof Float32Array) row.set(weight.subarray(v * d, (v + 1) * d));
      else row.set(fromHalfBits((weight as Uint16Array).subarray(v * d, (v + 1) * d), dtype === 'bfloat16' ? 'bfloat16' : 'float16'));
      quantiseBlocks(row, 0, d, q, s);
    }
    const base = (v >> 4) * d * INT8_TILE_ROWS + (v & 15) * 4;
    for (let i = 0; i < d; i++) codes[base + (i >> 2) * 4 * INT8_TILE_ROWS + (i & 3)] = q[i] + 128;
    for (let b = 0; b < nb; b++) scales[((v >> 4) * nb + b) * INT8_TILE_ROWS + (v & 15)] = s[b];
  }
  const h: Int8Head = { codes, scales, vocabSize: V, hiddenSize: d, exact: compact !== null };
  made.set(key, h);
  return h;
}
