import { f16Lookup } from './dequantize/half';
import { QK4, Q8_0_BLOCK_BYTES } from './dequantize/legacy-quants';
import { GgufError } from './errors';
import { GgmlType, ggmlTypeName } from './tensor-types';

/**
 * Raw blocks of a Q8_0 tensor region (element k of block b is `codes[32 b + k] * scales[b]`), kept
 * apart so that a quantised-matmul path (ONNX Runtime MatMulNBits with 8 bits) can use the model's own
 * 8-bit values without dequantising. llama.cpp stores the token embedding of many Q4 GGUFs this way, and
 * a tied LM head multiplies by the same matrix.
 */
export interface Q8Blocks {
  /** Number of 32-element blocks. */
  readonly blockCount: number;
  /** Per-block scale d (converted from f16). */
  readonly scales: Float32Array;
  /** 32 signed codes per block, in element order. */
  readonly codes: Int8Array;
}

/**
 * Splits `blockCount` consecutive Q8_0 blocks from `src` into scales and codes.
 * @throws {GgufError} for other types or when `src` is too short.
 */
export function readQ8Blocks(type: number, src: Uint8Array, blockCount: number): Q8Blocks {
  if (type !== GgmlType.Q8_0) throw new GgufError(`readQ8Blocks: expected Q8_0, got ${ggmlTypeName(type)}`);
  if (src.byteLength < blockCount * Q8_0_BLOCK_BYTES) {
    throw new GgufError(`readQ8Blocks: ${blockCount} Q8_0 blocks need ${blockCount * Q8_0_BLOCK_BYTES} bytes, got ${src.byteLength}`);
  }
  const t = f16Lookup();
  const scales = new Float32Array(blockCount);
  const codes = new Int8Array(blockCount * QK4);
  const signed = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < blockCount; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    scales[b] = t[src[o] | (src[o + 1] << 8)];
    codes.set(signed.subarray(o + 2, o + 2 + QK4), b * QK4);
  }
  return { blockCount, scales, codes };
}
