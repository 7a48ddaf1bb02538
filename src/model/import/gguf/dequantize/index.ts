import { GgufError } from '../errors';
import { GgmlType, ggmlTypeLayout, ggmlTypeName } from '../tensor-types';
import { dequantizeBF16, dequantizeF16, dequantizeF32 } from './float-types';
import { dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K } from './k-quants';
import { dequantizeQ4_0, dequantizeQ4_1, dequantizeQ8_0 } from './legacy-quants';

type Kernel = (src: Uint8Array, count: number, out: Float32Array) => void;

const KERNELS: ReadonlyMap<number, Kernel> = new Map<number, Kernel>([
  [GgmlType.F32, dequantizeF32],
  [GgmlType.F16, dequantizeF16],
  [GgmlType.BF16, dequantizeBF16],
  [GgmlType.Q8_0, dequantizeQ8_0],
  [GgmlType.Q4_0, dequantizeQ4_0],
  [GgmlType.Q4_1, dequantizeQ4_1],
  [GgmlType.Q4_K, dequantizeQ4_K],
  [GgmlType.Q5_K, dequantizeQ5_K],
  [GgmlType.Q6_K, dequantizeQ6_K],
]);

/** Tensor types {@link dequantize} can convert to float32. */
export const DEQUANTIZABLE_TYPES: readonly GgmlType[] = [...KERNELS.keys()];

/** True when {@link dequantize} supports `type`. */
export function canDequantize(type: number): boolean {
  return KERNELS.has(type);
}

/** Number of bytes `count` elements of `type` occupy (count must be a multiple of the block size). */
export function ggmlByteSize(type: number, count: number): number {
  const layout = ggmlTypeLayout(type);
  if (!layout) throw new GgufError(`unknown tensor type ${type}`);
  if (count % layout.blockSize !== 0) {
    throw new GgufError(`${count} elements of ${ggmlTypeName(type)} is not a whole number of ${layout.blockSize}-element blocks`);
  }
  return (count / layout.blockSize) * layout.blockBytes;
}

/**
 * Converts `count` elements of ggml type `type` stored in `src` (the raw little-endian block bytes,
 * as in a GGUF data section) to float32.
 * @param out optional destination of at least `count` elements; a new array is allocated otherwise.
 * @throws {GgufError} `unsupported tensor type X` for types without a kernel, or when `src` is too short.
 */
export function dequantize(type: number, src: Uint8Array, count: number, out?: Float32Array): Float32Array {
  const kernel = KERNELS.get(type);
  if (!kernel) throw new GgufError(`unsupported tensor type ${ggmlTypeName(type)}`);
  const need = ggmlByteSize(type, count);
  if (src.byteLength < need) {
    throw new GgufError(`${ggmlTypeName(type)} data too short: ${count} elements need ${need} bytes, got ${src.byteLength}`);
  }
  const dst = out ?? new Float32Array(count);
  if (dst.length < count) throw new GgufError(`output array holds ${dst.length} elements, ${count} needed`);
  kernel(src, count, dst);
  return dst;
}

export { f16ToF32, bf16ToF32 } from './half';
export { unpackScaleMinK4 } from './k-quants';
