/**
 * ggml tensor element types as numbered in GGUF tensor infos, with their block geometry.
 */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

/** Elements per block and bytes per block of a ggml type. */
export interface GgmlTypeLayout {
  /** Number of consecutive elements (along the first dimension) stored in one block. */
  readonly blockSize: number;
  /** Bytes one block occupies in the file. */
  readonly blockBytes: number;
}

/** Super-block size of the k-quants. */
export const QK_K = 256;

const LAYOUTS: ReadonlyMap<number, GgmlTypeLayout> = new Map<number, GgmlTypeLayout>([
  [GgmlType.F32, { blockSize: 1, blockBytes: 4 }],
  [GgmlType.F16, { blockSize: 1, blockBytes: 2 }],
  [GgmlType.BF16, { blockSize: 1, blockBytes: 2 }],
  [GgmlType.F64, { blockSize: 1, blockBytes: 8 }],
  [GgmlType.I8, { blockSize: 1, blockBytes: 1 }],
  [GgmlType.I16, { blockSize: 1, blockBytes: 2 }],
  [GgmlType.I32, { blockSize: 1, blockBytes: 4 }],
  [GgmlType.I64, { blockSize: 1, blockBytes: 8 }],
  [GgmlType.Q4_0, { blockSize: 32, blockBytes: 18 }],
  [GgmlType.Q4_1, { blockSize: 32, blockBytes: 20 }],
  [GgmlType.Q5_0, { blockSize: 32, blockBytes: 22 }],
  [GgmlType.Q5_1, { blockSize: 32, blockBytes: 24 }],
  [GgmlType.Q8_0, { blockSize: 32, blockBytes: 34 }],
  [GgmlType.Q8_1, { blockSize: 32, blockBytes: 36 }],
  [GgmlType.IQ4_NL, { blockSize: 32, blockBytes: 18 }],
  [GgmlType.MXFP4, { blockSize: 32, blockBytes: 17 }],
  [GgmlType.Q2_K, { blockSize: QK_K, blockBytes: 84 }],
  [GgmlType.Q3_K, { blockSize: QK_K, blockBytes: 110 }],
  [GgmlType.Q4_K, { blockSize: QK_K, blockBytes: 144 }],
  [GgmlType.Q5_K, { blockSize: QK_K, blockBytes: 176 }],
  [GgmlType.Q6_K, { blockSize: QK_K, blockBytes: 210 }],
  [GgmlType.Q8_K, { blockSize: QK_K, blockBytes: 292 }],
  [GgmlType.IQ2_XXS, { blockSize: QK_K, blockBytes: 66 }],
  [GgmlType.IQ2_XS, { blockSize: QK_K, blockBytes: 74 }],
  [GgmlType.IQ2_S, { blockSize: QK_K, blockBytes: 82 }],
  [GgmlType.IQ3_XXS, { blockSize: QK_K, blockBytes: 98 }],
  [GgmlType.IQ3_S, { blockSize: QK_K, blockBytes: 110 }],
  [GgmlType.IQ1_S, { blockSize: QK_K, blockBytes: 50 }],
  [GgmlType.IQ1_M, { blockSize: QK_K, blockBytes: 56 }],
  [GgmlType.IQ4_XS, { blockSize: QK_K, blockBytes: 136 }],
  [GgmlType.TQ1_0, { blockSize: QK_K, blockBytes: 54 }],
  [GgmlType.TQ2_0, { blockSize: QK_K, blockBytes: 66 }],
]);

/** Block geometry of a ggml type, or undefined when the type number is not known. */
export function ggmlTypeLayout(type: number): GgmlTypeLayout | undefined {
  return LAYOUTS.get(type);
}

/** Name of a ggml type for messages, e.g. "Q4_K"; unknown numbers are shown as "type N". */
export function ggmlTypeName(type: number): string {
  const name = (GgmlType as unknown as Record<number, string | undefined>)[type];
  return typeof name === 'string' ? name : `type ${type}`;
}
