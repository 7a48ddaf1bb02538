let f16Table: Float32Array | null = null;

/** Builds (once) a 65,536-entry lookup table from IEEE-754 binary16 bit patterns to float32. */
function table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumberSlow(h);
  f16Table = t;
  return t;
}

/** Decodes an IEEE-754 half-precision bit pattern (subnormals, infinities and NaN included). */
function f16BitsToNumberSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts a binary16 bit pattern (uint16) to a number. */
export function f16ToF32(bits: number): number {
  return table()[bits & 0xffff];
}

/** The shared binary16 -> float32 lookup table (index by the uint16 bit pattern). */
export function f16Lookup(): Float32Array {
  return table();
}

const bf16Scratch = new Uint32Array(1);
const bf16View = new Float32Array(bf16Scratch.buffer);

/** Converts a bfloat16 bit pattern (the upper 16 bits of a float32) to a number. */
export function bf16ToF32(bits: number): number {
  bf16Scratch[0] = (bits & 0xffff) << 16;
  return bf16View[0];
}
