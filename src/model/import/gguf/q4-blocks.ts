import { f16Lookup } from './dequantize/half';
import { QK4, Q4_0_BLOCK_BYTES, Q4_1_BLOCK_BYTES } from './dequantize/legacy-quants';
import { GgufError } from './errors';
import { GgmlType, ggmlTypeName } from './tensor-types';

/**
 * Raw 4-bit blocks of a Q4_0 or Q4_1 tensor region, split into separate arrays so that a
 * quantised-matmul path (e.g. ONNX Runtime MatMulNBits) can reuse the codes without dequantising.
 * Element k of block b is: Q4_0: (code - 8) * scales[b]; Q4_1: code * scales[b] + mins[b].
 */
export interface Q4Blocks {
  /** GgmlType.Q4_0 or GgmlType.Q4_1. */
  readonly type: GgmlType.Q4_0 | GgmlType.Q4_1;
  /** Number of 32-element blocks. */
  readonly blockCount: number;
  /** Per-block scale d (converted from f16). */
  readonly scales: Float32Array;
  /** Per-block minimum m (Q4_1 only; null for Q4_0). */
  readonly mins: Float32Array | null;
  /**
   * 16 bytes per block in ggml's order: byte j holds element j in its low nibble and element j+16
   * in its high nibble. Use {@link repackQ4Sequential} for the (2i, 2i+1) pair order.
   */
  readonly codes: Uint8Array;
}

/**
 * Splits `blockCount` consecutive Q4_0 or Q4_1 blocks from `src` into scales, mins and packed codes.
 * @throws {GgufError} for other types or when `src` is too short.
 */
export function readQ4Blocks(type: number, src: Uint8Array, blockCount: number): Q4Blocks {
  if (type !== GgmlType.Q4_0 && type !== GgmlType.Q4_1) {
    throw new GgufError(`readQ4Blocks: expected Q4_0 or Q4_1, got ${ggmlTypeName(type)}`);
  }
  const bb = type === GgmlType.Q4_0 ? Q4_0_BLOCK_BYTES : Q4_1_BLOCK_BYTES;
  if (src.byteLength < blockCount * bb) {
    throw new GgufError(`readQ4Blocks: ${blockCount} ${ggmlTypeName(type)} blocks need ${blockCount * bb} bytes, got ${src.byteLength}`);
  }
  const t = f16Lookup();
  const scales = new Float32Array(blockCount);
  const mins = type === GgmlType.Q4_1 ? new Float32Array(blockCount) : null;
  const codes = new Uint8Array(blockCount * 16);
  const qOff = type === GgmlType.Q4_0 ? 2 : 4;
  for (let b = 0; b < blockCount; b++) {
    const o = b * bb;
    scales[b] = t[src[o] | (src[o + 1] << 8)];
    if (mins) mins[b] = t[src[o + 2] | (src[o + 3] << 8)];
    codes.set(src.subarray(o + qOff, o + qOff + 16), b * 16);
  }
  return { type, blockCount, scales, mins, codes };
}

/** The 32 codes (0..15) of block `b` of `blocks`, in element order. */
export function unpackQ4Codes(blocks: Q4Blocks, b: number): Uint8Array {
  const out = new Uint8Array(QK4);
  const o = b * 16;
  for (let j = 0; j < 16; j++) {
    const q = blocks.codes[o + j];
    out[j] = q & 0x0f;
    out[j + 16] = q >> 4;
  }
  return out;
}

/**
 * Re-packs ggml-ordered codes (byte j = element j | element j+16 << 4) into sequential pair order
 * (byte i = element 2i | element 2i+1 << 4), the layout MatMulNBits expects, block by block.
 */
export function repackQ4Sequential(codes: Uint8Array): Uint8Array {
  if (codes.length % 16 !== 0) throw new GgufError(`repackQ4Sequential: ${codes.length} bytes is not a whole number of blocks`);
  const out = new Uint8Array(codes.length);
  const tmp = new Uint8Array(QK4);
  for (let o = 0; o < codes.length; o += 16) {
    for (let j = 0; j < 16; j++) {
      tmp[j] = codes[o + j] & 0x0f;
      tmp[j + 16] = codes[o + j] >> 4;
    }
    for (let i = 0; i < 16; i++) out[o + i] = tmp[2 * i] | (tmp[2 * i + 1] << 4);
  }
  return out;
}
