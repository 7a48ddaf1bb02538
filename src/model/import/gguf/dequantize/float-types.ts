import { f16Lookup } from './half';

/** Copies `count` little-endian float32 values from `src` into `out`. */
export function dequantizeF32(src: Uint8Array, count: number, out: Float32Array): void {
  const dv = new DataView(src.buffer, src.byteOffset, count * 4);
  for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
}

/** Converts `count` little-endian IEEE binary16 values from `src` into `out`. */
export function dequantizeF16(src: Uint8Array, count: number, out: Float32Array): void {
  const t = f16Lookup();
  for (let i = 0; i < count; i++) out[i] = t[src[2 * i] | (src[2 * i + 1] << 8)];
}

/** Converts `count` little-endian bfloat16 values from `src` into `out` (exact: bf16 is truncated f32). */
export function dequantizeBF16(src: Uint8Array, count: number, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, count);
  for (let i = 0; i < count; i++) bits[i] = ((src[2 * i] | (src[2 * i + 1] << 8)) << 16) >>> 0;
}
