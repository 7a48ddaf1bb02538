/**
 * Lazily produced tensor contents. Initializers are described by a {@link TensorSource} and only
 * materialised, one at a time, when the model file is written, so a large model is never held
 * twice in memory.
 */
import { BYTES_PER_ELEMENT, OnnxDataType, type OnnxDataTypeCode } from './onnx-types';

/** Float32 data given directly or by a (possibly asynchronous) loader called once at write time. */
export type Float32Data = Float32Array | (() => Float32Array | Promise<Float32Array>);

/**
 * A named weight as handed to the graph builders: its shape (row-major) and its float32 data.
 * Passing a loader function lets importers read tensors from disk one at a time.
 */
export interface WeightTensor {
  /** Shape, row-major, outermost first. */
  readonly dims: readonly number[];
  /** The values, or a loader returning them. */
  readonly data: Float32Data;
  /**
   * The same matrix still 4-bit block-quantised (GGUF Q4_0 / Q4_1 rows of `dims = [out, in]`),
   * when the importer has it: builders may keep it quantised (MatMulNBits) instead of `data`.
   */
  readonly q4?: Q4Weight;
  /**
   * The same matrix still in GGUF Q8_0 blocks (32 signed 8-bit codes and one scale per block along each
   * row of `dims = [out, in]`), when the importer has it: a builder may project onto it with 8-bit
   * MatMulNBits (the model's own values) instead of `data`.
   */
  readonly q8?: Q8Weight;
}

/** A `[rows, cols]` matrix in 32-element 8-bit blocks along each row: element k of block b is `codes[32 b + k] * scales[b]`. */
export interface Q8Weight {
  /** Loads the blocks (called at write time). */
  read(): Q8WeightBlocks | Promise<Q8WeightBlocks>;
}

/** The blocks of a {@link Q8Weight}. */
export interface Q8WeightBlocks {
  /** Per-block scale d. */
  readonly scales: Float32Array;
  /** 32 signed codes per block, element order. */
  readonly codes: Int8Array;
}

/**
 * A `[rows, cols]` matrix in 32-element 4-bit blocks along each row (row-major blocks).
 * Element k of block b is `(code - 8) * scales[b]` (`q4_0`) or `code * scales[b] + mins[b]` (`q4_1`).
 */
export interface Q4Weight {
  /** Block format. */
  readonly kind: 'q4_0' | 'q4_1';
  /** Loads the blocks (called at write time). */
  read(): Q4WeightBlocks | Promise<Q4WeightBlocks>;
}

/** The blocks of a {@link Q4Weight}. */
export interface Q4WeightBlocks {
  /** Per-block scale d. */
  readonly scales: Float32Array;
  /** Per-block minimum m (`q4_1` only). */
  readonly mins: Float32Array | null;
  /** 16 bytes per block, ggml order: byte j = element j (low nibble) | element j+16 (high nibble). */
  readonly codes: Uint8Array;
}

/** Weights by name (naming conventions are documented by each architecture builder). */
export type WeightMap = ReadonlyMap<string, WeightTensor>;

/** The contents of one initializer, produced on demand. */
export interface TensorSource {
  /** Element type. */
  readonly dataType: OnnxDataTypeCode;
  /** Shape. */
  readonly dims: readonly number[];
  /** Produces the little-endian bytes (byte length = product(dims) * element size). */
  bytes(): Promise<Uint8Array>;
}

/** Number of elements of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Byte length of a source's contents. */
export function sourceByteLength(s: TensorSource): number {
  return elementCount(s.dims) * BYTES_PER_ELEMENT[s.dataType];
}

function viewBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Loads a weight's data, checking its length against its shape. */
export async function loadWeight(name: string, w: WeightTensor): Promise<Float32Array> {
  const data = typeof w.data === 'function' ? await w.data() : w.data;
  if (!(data instanceof Float32Array)) throw new TypeError(`weight ${name}: data is not a Float32Array`);
  const n = elementCount(w.dims);
  if (data.length !== n) {
    throw new RangeError(`weight ${name}: ${data.length} values for shape [${w.dims.join(', ')}] (${n} expected)`);
  }
  return data;
}

/** A float32 source holding a weight as given. */
export function weightSource(name: string, w: WeightTensor): TensorSource {
  return { dataType: OnnxDataType.FLOAT, dims: [...w.dims], bytes: async () => viewBytes(await loadWeight(name, w)) };
}

/** A float32 source from values already in memory. */
export function float32Source(values: Float32Array | readonly number[], dims: readonly number[]): TensorSource {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  if (data.length !== elementCount(dims)) throw new RangeError('float32Source: length does not match dims');
  return { dataType: OnnxDataType.FLOAT, dims: [...dims], bytes: async () => viewBytes(data) };
}

/** An int64 source from small integer values. */
export function int64Source(values: readonly number[], dims: readonly number[]): TensorSource {
  if (values.length !== elementCount(dims)) throw new RangeError('int64Source: length does not match dims');
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { dataType: OnnxDataType.INT64, dims: [...dims], bytes: async () => viewBytes(data) };
}

/**
 * Transposes and concatenates PyTorch `nn.Linear` weights ([out_i, in] each) into one
 * [in, sum(out_i)] matrix for `MatMul(x, W)`. With one weight it is a plain transpose.
 */
export function fusedTransposedSource(parts: readonly { name: string; weight: WeightTensor }[]): TensorSource {
  if (parts.length === 0) throw new RangeError('fusedTransposedSource: no parts');
  const inDim = parts[0].weight.dims[1];
  for (const p of parts) {
    if (p.weight.dims.length !== 2 || p.weight.dims[1] !== inDim) {
      throw new RangeError(`weight ${p.name}: shape [${p.weight.dims.join(', ')}] is not [out, ${inDim}]`);
    }
  }
  const outTotal = parts.reduce((s, p) => s + p.weight.dims[0], 0);
  return {
    dataType: OnnxDataType.FLOAT,
    dims: [inDim, outTotal],
    bytes: async () => {
      const out = new Float32Array(inDim * outTotal);
      let col0 = 0;
      for (const p of parts) {
        const w = await loadWeight(p.name, p.weight);
        const rows = p.weight.dims[0];
        for (let o = 0; o < rows; o++) {
          const src = o * inDim;
          const dst = col0 + o;
          for (let i = 0; i < inDim; i++) out[i * outTotal + dst] = w[src + i];
        }
        col0 += rows;
      }
      return viewBytes(out);
    },
  };
}

/** Concatenates 1-D float weights (e.g. q/k/v biases) into one vector. */
export function concatVectorsSource(parts: readonly { name: string; weight: WeightTensor }[]): TensorSource {
  const total = parts.reduce((s, p) => s + elementCount(p.weight.dims), 0);
  return {
    dataType: OnnxDataType.FLOAT,
    dims: [total],
    bytes: async () => {
      const out = new Float32Array(total);
      let at = 0;
      for (const p of parts) {
        const w = await loadWeight(p.name, p.weight);
        out.set(w, at);
        at += w.length;
      }
      return viewBytes(out);
    },
  };
}
