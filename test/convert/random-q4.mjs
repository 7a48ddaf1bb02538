// Random 4-bit weights in GGUF's Q4_0 / Q4_1 layout, for graphs that keep them 4-bit (MatMulNBits).
import { graph } from '../graph/helpers.mjs';

const { mulberry32 } = graph;

/** A random Q4_0 / Q4_1 matrix [rows, k]: ggml-ordered codes, scales, mins and its float64 values. */
export function randomQ4(kind, rows, k, seed, { zeroScaleBlock = false } = {}) {
  const rnd = mulberry32(seed);
  const blocks = (rows * k) / 32;
  const scales = new Float32Array(blocks);
  const mins = kind === 'q4_1' ? new Float32Array(blocks) : null;
  const codes = new Uint8Array(blocks * 16);
  const values = new Float64Array(rows * k);
  for (let b = 0; b < blocks; b++) {
    scales[b] = 0.01 + 0.1 * rnd();
    if (mins) mins[b] = rnd() - 0.5;
    if (zeroScaleBlock && b === 1) scales[b] = 0;
    const c = Array.from({ length: 32 }, () => Math.floor(rnd() * 16));
    for (let j = 0; j < 16; j++) codes[b * 16 + j] = c[j] | (c[j + 16] << 4);
    for (let e = 0; e < 32; e++) {
      values[b * 32 + e] = kind === 'q4_0' ? (c[e] - 8) * scales[b] : c[e] * scales[b] + mins[b];
    }
  }
  const data = Float32Array.from(values);
  return { dims: [rows, k], data, q4: { kind, read: () => ({ scales, mins, codes }) }, values };
}

/** A random Q8_0 matrix [rows, k] (codes -128..127, both extremes present) with its float64 values. */
export function randomQ8(rows, k, seed) {
  const rnd = mulberry32(seed);
  const blocks = (rows * k) / 32;
  const scales = new Float32Array(blocks);
  const codes = new Int8Array(rows * k);
  const values = new Float64Array(rows * k);
  for (let b = 0; b < blocks; b++) {
    scales[b] = 0.001 + 0.01 * rnd();
    for (let e = 0; e < 32; e++) {
      const i = b * 32 + e;
      codes[i] = e === 0 ? -128 : e === 1 ? 127 : Math.floor(rnd() * 256) - 128;
      values[i] = codes[i] * scales[b];
    }
  }
  return { dims: [rows, k], data: Float32Array.from(values), q8: { read: () => ({ scales, codes }) }, values };
}
