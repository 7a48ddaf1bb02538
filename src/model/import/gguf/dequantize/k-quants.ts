import { QK_K } from '../tensor-types';
import { f16Lookup } from './half';

/** Bytes per Q4_K super-block: d f16, dmin f16, scales u8[12], qs u8[128]. */
export const Q4_K_BLOCK_BYTES = 144;
/** Bytes per Q5_K super-block: d f16, dmin f16, scales u8[12], qh u8[32], qs u8[128]. */
export const Q5_K_BLOCK_BYTES = 176;
/** Bytes per Q6_K super-block: ql u8[128], qh u8[64], scales i8[16], d f16. */
export const Q6_K_BLOCK_BYTES = 210;

/**
 * Unpacks the j-th (0..7) 6-bit scale and 6-bit min of a Q4_K/Q5_K super-block from its 12 packed
 * bytes at `src[o..o+12)`. Sub-blocks 0-3 use the low 6 bits of bytes j and j+4; sub-blocks 4-7 take
 * their low 4 bits from byte j+4 and their top 2 bits from the top bits of bytes j-4 and j.
 * Returns scale in [0] and min in [1] of `into`.
 */
export function unpackScaleMinK4(src: Uint8Array, o: number, j: number, into: Uint8Array): void {
  if (j < 4) {
    into[0] = src[o + j] & 63;
    into[1] = src[o + j + 4] & 63;
  } else {
    into[0] = (src[o + j + 4] & 0x0f) | ((src[o + j - 4] >> 6) << 4);
    into[1] = (src[o + j + 4] >> 4) | ((src[o + j] >> 6) << 4);
  }
}

/**
 * Q4_K: 256 values in 8 sub-blocks of 32, each with a 6-bit scale and min;
 * value = d*scale*code - dmin*min. Codes of sub-blocks 2i and 2i+1 share 32 bytes
 * (low nibbles for 2i, high nibbles for 2i+1).
 */
export function dequantizeQ4_K(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  const sm = new Uint8Array(2);
  const nb = count / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BLOCK_BYTES;
    const d = t[src[o] | (src[o + 1] << 8)];
    const dmin = t[src[o + 2] | (src[o + 3] << 8)];
    const sc = o + 4;
    const qs = o + 16;
    let y = b * QK_K;
    for (let pair = 0; pair < 4; pair++) {
      unpackScaleMinK4(src, sc, 2 * pair, sm);
      const d1 = d * sm[0];
      const m1 = dmin * sm[1];
      unpackScaleMinK4(src, sc, 2 * pair + 1, sm);
      const d2 = d * sm[0];
      const m2 = dmin * sm[1];
      const q = qs + 32 * pair;
      for (let l = 0; l < 32; l++) out[y + l] = d1 * (src[q + l] & 0x0f) - m1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = d2 * (src[q + l] >> 4) - m2;
      y += 64;
    }
  }
}

/**
 * Q5_K: as Q4_K with a fifth bit per value from `qh`: for sub-block s the bit is
 * `(qh[l] >> s) & 1` (l = index within the sub-block); code = nibble + 16*bit.
 */
export function dequantizeQ5_K(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  const sm = new Uint8Array(2);
  const nb = count / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_K_BLOCK_BYTES;
    const d = t[src[o] | (src[o + 1] << 8)];
    const dmin = t[src[o + 2] | (src[o + 3] << 8)];
    const sc = o + 4;
    const qh = o + 16;
    const qs = o + 48;
    let y = b * QK_K;
    for (let pair = 0; pair < 4; pair++) {
      unpackScaleMinK4(src, sc, 2 * pair, sm);
      const d1 = d * sm[0];
      const m1 = dmin * sm[1];
      unpackScaleMinK4(src, sc, 2 * pair + 1, sm);
      const d2 = d * sm[0];
      const m2 = dmin * sm[1];
      const u1 = 1 << (2 * pair);
      const u2 = 2 << (2 * pair);
      const q = qs + 32 * pair;
      for (let l = 0; l < 32; l++) out[y + l] = d1 * ((src[q + l] & 0x0f) + (src[qh + l] & u1 ? 16 : 0)) - m1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = d2 * ((src[q + l] >> 4) + (src[qh + l] & u2 ? 16 : 0)) - m2;
      y += 64;
    }
  }
}

/**
 * Q6_K: 256 values in 16 sub-blocks of 16 with int8 scales; 6-bit codes (low 4 bits in `ql`,
 * high 2 bits in `qh`), value = d * scale * (code - 32). Each half of 128 values uses 64 bytes of
 * `ql`, 32 bytes of `qh` and 8 scales: for l in 0..32, value l / l+32 / l+64 / l+96 take the low
 * nibble of ql[l], low nibble of ql[l+32], high nibble of ql[l], high nibble of ql[l+32], and bits
 * 0-1 / 2-3 / 4-5 / 6-7 of qh[l].
 */
export function dequantizeQ6_K(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  const nb = count / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q6_K_BLOCK_BYTES;
    const d = t[src[o + 208] | (src[o + 209] << 8)];
    let y = b * QK_K;
    for (let half = 0; half < 2; half++) {
      const ql = o + 64 * half;
      const qh = o + 128 + 32 * half;
      const sc = o + 192 + 8 * half;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = src[qh + l];
        const q1 = ((src[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = d * int8(src[sc + is]) * q1;
        out[y + l + 32] = d * int8(src[sc + is + 2]) * q2;
        out[y + l + 64] = d * int8(src[sc + is + 4]) * q3;
        out[y + l + 96] = d * int8(src[sc + is + 6]) * q4;
      }
      y += 128;
    }
  }
}

function int8(b: number): number {
  return b > 127 ? b - 256 : b;
}
