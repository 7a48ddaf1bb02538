import { f16Lookup } from './half';

/** Elements per Q4_0 / Q4_1 / Q8_0 block. */
export const QK4 = 32;
/** Bytes per Q4_0 block: f16 scale d, 16 bytes of 4-bit codes. */
export const Q4_0_BLOCK_BYTES = 18;
/** Bytes per Q4_1 block: f16 scale d, f16 minimum m, 16 bytes of 4-bit codes. */
export const Q4_1_BLOCK_BYTES = 20;
/** Bytes per Q8_0 block: f16 scale d, 32 int8 codes. */
export const Q8_0_BLOCK_BYTES = 34;

/**
 * Q4_0: each block of 32 is `d: f16, qs: u8[16]`; byte j holds element j in its low nibble and
 * element j+16 in its high nibble; value = (code - 8) * d.
 */
export function dequantizeQ4_0(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  const nb = count / QK4;
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = t[src[o] | (src[o + 1] << 8)];
    const y = b * QK4;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j];
      out[y + j] = ((q & 0x0f) - 8) * d;
      out[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/**
 * Q4_1: each block of 32 is `d: f16, m: f16, qs: u8[16]` (nibble order as Q4_0);
 * value = code * d + m.
 */
export function dequantizeQ4_1(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  const nb = count / QK4;
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_1_BLOCK_BYTES;
    const d = t[src[o] | (src[o + 1] << 8)];
    const m = t[src[o + 2] | (src[o + 3] << 8)];
    const y = b * QK4;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 4 + j];
      out[y + j] = (q & 0x0f) * d + m;
      out[y + j + 16] = (q >> 4) * d + m;
    }
  }
}

/** Q8_0: each block of 32 is `d: f16, qs: i8[32]`; value = code * d. */
export function dequantizeQ8_0(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  const nb = count / QK4;
  for (let b = 0; b < nb; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = t[src[o] | (src[o + 1] << 8)];
    const y = b * QK4;
    for (let j = 0; j < 32; j++) {
      const q = src[o + 2 + j];
      out[y + j] = (q > 127 ? q - 256 : q) * d;
    }
  }
}
