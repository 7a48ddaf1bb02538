/**
 * The seeded generator and the draw rule of sampling, restated from native/kernels/select.h (the definition
 * shared by the C++ fused step and the CUDA selection): xoshiro128** seeded through splitmix32, one stream per
 * row, and an inverse-CDF draw whose sums run in fixed chunks. The fused native path and this chain therefore
 * draw the same tokens for the same seed (test/generate/fused-path.test.mjs); test/unit/random.test.mjs checks
 * both against an independent Python restatement.
 */

/** A seeded generator (xoshiro128**, splitmix32 seeding): equal (seed, stream) pairs give equal sequences. */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed any safe integer; its low and high 32-bit words are mixed with the stream.
   * @param stream independent sequences of one seed (the row of a batch), 0..2^32-1.
   */
  constructor(seed: number, stream = 0) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    let x = (lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(stream >>> 0, 0xc2b2ae35)) >>> 0;
    // splitmix32 spreads the seed over the state
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next() | 1;
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextU32(): number {
    // xoshiro128** step
    const result = Math.imul(this.rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = this.rotl(this.s3, 11);
    return result;
  }

  /** The next float in [0, 1) (32 random bits). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  private rotl(x: number, k: number): number {
    return (x << k) | (x >>> (32 - k));
  }
}

/** Chunks of the draw rule (a GPU block of this many threads computes the same sums). */
export const DRAW_CHUNKS = 256;

/**
 * The draw rule: weights exp(x_i - max) in double, summed left to right within DRAW_CHUNKS chunks of
 * ceil(V / DRAW_CHUNKS) entries and the chunk sums left to right; target = u x total; walking from the first
 * chunk whose running sum exceeds the target, the first entry at which the running sum exceeds it. Rounding
 * that leaves none picks the last allowed entry. Returns -1 when every entry is -Infinity.
 */
export function drawIndex(scores: Float32Array, u: number): number {
  const V = scores.length;
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (scores[i] > m) m = scores[i];
  if (m === -Infinity) return -1;
  const size = Math.ceil(V / DRAW_CHUNKS);
  const sums = new Float64Array(DRAW_CHUNKS);
  for (let c = 0; c < DRAW_CHUNKS; c++) {
    let s = 0;
    for (let i = c * size, e = Math.min(V, i + size); i < e; i++) s += Math.exp(scores[i] - m);
    sums[c] = s;
  }
  let total = 0;
  for (let c = 0; c < DRAW_CHUNKS; c++) total += sums[c];
  const target = u * total;
  let acc = 0;
  let c = 0;
  while (c < DRAW_CHUNKS - 1 && !(acc + sums[c] > target)) acc += sums[c++];
  let last = -1;
  for (let i = c * size; i < V; i++) {
    if (scores[i] === -Infinity) continue;
    last = i;
    acc += Math.exp(scores[i] - m);
    if (acc > target) return i;
  }
  if (last >= 0) return last;
  for (let i = V - 1; i >= 0; i--) if (scores[i] !== -Infinity) return i;
  return -1;
}
