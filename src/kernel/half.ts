/**
 * Conversions between float32 and the 16-bit formats the kernels accept (IEEE binary16 "float16" and
 * "bfloat16"), as bit patterns in a Uint16Array: Node.js 20 has no Float16Array.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let f16Table: Float32Array | undefined;

/** Decodes one float16 bit pattern. */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** Decodes one bfloat16 bit pattern. */
export function bfloat16BitsToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** A 65536-entry table float16 bits -> float32, built on first use (256 KiB). */
export function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16BitsToNumber(h);
  }
  return f16Table;
}

/** Rounds a number to the nearest float16 (ties to even) and returns its bit pattern. */
export function numberToFloat16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    const v = Math.abs(f32[0]) * 16777216;
    let n = Math.floor(v);
    const diff = v - n;
    if (diff > 0.5 || (diff === 0.5 && n & 1)) n++;
    return sign | n;
  }
  const m = (a + 0xfff + ((a >>> 13) & 1) - 0x38000000) >>> 0;
  return sign | (m >>> 13);
}

/** Rounds a number to the nearest bfloat16 (ties to even) and returns its bit pattern. */
export function numberToBfloat16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Converts float values to a Uint16Array of float16 bits (for the `dtype: 'float16'` inputs). */
export function toFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToFloat16Bits(values[i]);
  return out;
}

/** Converts float values to a Uint16Array of bfloat16 bits (for the `dtype: 'bfloat16'` inputs). */
export function toBfloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToBfloat16Bits(values[i]);
  return out;
}

/** Decodes a Uint16Array of float16 or bfloat16 bits to a Float32Array. */
export function fromHalfBits(bits: Uint16Array, dtype: 'float16' | 'bfloat16'): Float32Array {
  const out = new Float32Array(bits.length);
  if (dtype === 'float16') {
    const t = float16Table();
    for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  } else {
    const o32 = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) o32[i] = bits[i] << 16;
  }
  return out;
}
