import type { GgmlType } from './tensor-types';

/** One entry of the GGUF tensor table, with sizes and offsets already validated against the file. */
export interface GgufTensorInfo {
  /** Tensor name, e.g. "blk.0.attn_q.weight". */
  readonly name: string;
  /** ggml dimensions ne[0..n): ne[0] is the fastest-varying (contiguous) axis. */
  readonly dims: readonly number[];
  /** Row-major shape (ONNX / NumPy order): `dims` reversed, e.g. [rows, cols] for a matrix. */
  readonly shape: readonly number[];
  /** Element type number (see {@link GgmlType}); may be a type this library cannot dequantise. */
  readonly type: GgmlType;
  /** Human-readable type name, e.g. "Q4_K". */
  readonly typeName: string;
  /** Total number of elements. */
  readonly elementCount: number;
  /** Bytes the tensor data occupies. */
  readonly byteSize: number;
  /** Offset relative to the start of the data section, as stored. */
  readonly relativeOffset: number;
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  /** Elements per row (= dims[0]) and number of rows (product of the other dims). */
  readonly rowLength: number;
  /** Number of rows of `rowLength` elements. */
  readonly rowCount: number;
  /** Bytes per row. */
  readonly rowBytes: number;
}
