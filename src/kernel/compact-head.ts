/**
 * A lossless int8 block form of a head matrix: `W[v][i] = q[v * d + i] * scale[(v * d + i) / 32]`. A head that
 * was dequantised from GGUF Q8_0 (a float16 scale times an int8 per block of 32) has this form exactly; reading
 * it instead of the float32 matrix moves a quarter of the bytes per candidate projection, with identical logits.
 */

/** The int8 block form of a `[V x d]` head (d a multiple of 32). */
export interface CompactHead {
  /** `[V x d]` int8 values. */
  readonly q8: Int8Array;
  /** One float32 scale per block of 32 values, `[V x d / 32]`. */
  readonly scale: Float32Array;
}

/**
 * The int8 block form of `weight` (`[V x d]` float32), or null when `weight` is not exactly of that form (then
 * nothing is approximated: callers keep the float32 matrix). Each block's scale is its largest magnitude / 127,
 * as Q8_0 quantisation chose it; every value must then be an integer multiple of it in [-127, 127], and the
 * product must give the value back bit for bit.
 */
export function compactHead(weight: Float32Array, vocabSize: number, hiddenSize: number): CompactHead | null {
  const d = hiddenSize;
  if (!(weight instanceof Float32Array) || d % 32 !== 0 || weight.length !== vocabSize * d) return null;
  const blocks = weight.length / 32;
  const q8 = new Int8Array(weight.length);
  const scale = new Float32Array(blocks);
  const f = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    const off = b * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(weight[off + i]));
    f[0] = amax / 127;
    const s = f[0];
    scale[b] = s;
    for (let i = 0; i < 32; i++) {
      const w = weight[off + i];
      const q = s === 0 ? 0 : Math.round(w / s);
      if (q < -127 || q > 127) return null;
      f[0] = q * s;
      if (f[0] !== w) return null;
      q8[off + i] = q;
    }
  }
  return { q8, scale };
}
