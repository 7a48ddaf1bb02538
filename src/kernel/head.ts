/**
 * Dense head projection for early exit: the logits of an exit that only outputs its hidden state,
 * `out[r, v] = dot(W[v], h[r]) + b[v]` for every row and vocabulary entry. Native (SIMD dot products spread over
 * the addon's thread pool) when the addon is loaded, else the TypeScript fallback below.
 */
import { fromHalfBits } from './half';
import { loadNative } from './native';
import { DTYPE_CODE } from './validate';
import type { Dtype } from './types';

/** Options of {@link headLogits}. */
export interface HeadLogitsOptions {
  /** Hidden width d (hidden holds rows x d values). */
  hiddenSize: number;
  /** Vocabulary size V (headWeight holds V x d values). */
  vocabSize: number;
  /** Element type of headWeight and headBias (default: float32 for a Float32Array, float16 for a Uint16Array). */
  weightDtype?: Dtype;
  /** Optional bias `[V]` (same element type as the weight). */
  headBias?: Float32Array | Uint16Array;
  /** Output `[rows x V]` (allocated when absent). */
  out?: Float32Array;
  /** Force the TypeScript fallback. */
  backend?: 'js' | 'native';
}

function dtypeOf(w: Float32Array | Uint16Array, given: Dtype | undefined): Dtype {
  if (w instanceof Float32Array) {
    if (given !== undefined && given !== 'float32') throw new TypeError(`a Float32Array headWeight needs weightDtype 'float32', got '${given}'`);
    return 'float32';
  }
  if (w instanceof Uint16Array) {
    const d = given ?? 'float16';
    if (d !== 'float16' && d !== 'bfloat16') throw new TypeError(`a Uint16Array headWeight needs weightDtype 'float16' or 'bfloat16', got '${String(d)}'`);
    return d;
  }
  throw new TypeError('Expected headWeight to be a Float32Array or a Uint16Array (16-bit float bits)');
}

/**
 * Logits `[rows x V]` of a linear head over hidden states `[rows x d]`: `out[r, v] = dot(W[v], h[r]) + b[v]`.
 * @throws TypeError for wrong array types, RangeError for sizes that do not match.
 */
export function headLogits(hidden: Float32Array, headWeight: Float32Array | Uint16Array, options: HeadLogitsOptions): Float32Array {
  if (!(hidden instanceof Float32Array)) throw new TypeError('Expected hidden to be a Float32Array');
  const d = options.hiddenSize;
  const V = options.vocabSize;
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`hiddenSize must be a positive integer, got ${d}`);
  if (!Number.isInteger(V) || V < 1) throw new RangeError(`vocabSize must be a positive integer, got ${V}`);
  if (hidden.length === 0 || hidden.length % d !== 0) throw new RangeError(`hidden holds ${hidden.length} values, not a positive multiple of hiddenSize ${d}`);
  const rows = hidden.length / d;
  const dtype = dtypeOf(headWeight, options.weightDtype);
  if (headWeight.length !== V * d) throw new RangeError(`headWeight holds ${headWeight.length} values, expected vocabSize x hiddenSize = ${V * d}`);
  const bias = options.headBias;
  if (bias !== undefined) {
    if (dtype === 'float32' ? !(bias instanceof Float32Array) : !(bias instanceof Uint16Array)) {
      throw new TypeError(`Expected headBias to have the weight's element type (${dtype})`);
    }
    if (bias.length !== V) throw new RangeError(`headBias holds ${bias.length} values, expected vocabSize = ${V}`);
  }
  const out = options.out ?? new Float32Array(rows * V);
  if (!(out instanceof Float32Array) || out.length !== rows * V) throw new RangeError(`out must be a Float32Array of rows x vocabSize = ${rows * V} values`);
  const native = options.backend !== 'js' ? loadNative() : null;
  if (native?.headLogits) {
    native.headLogits({
      hidden,
      rows,
      hiddenSize: d,
      vocab: V,
      headWeight,
      weightDtype: DTYPE_CODE[dtype],
      ...(bias !== undefined ? { headBias: bias } : {}),
      out,
    });
    return out;
  }
  if (options.backend === 'native') throw new Error('the native addon with headLogits is not loaded');
  return headLogitsJs(hidden, headWeight, dtype, bias, rows, d, V, out);
}

function headLogitsJs(
  hidden: Float32Array,
  w: Float32Array | Uint16Array,
  dtype: Dtype,
  bias: Float32Array | Uint16Array | undefined,
  rows: number,
  d: number,
  V: number,
  out: Float32Array,
): Float32Array {
  const W = dtype === 'float32' ? (w as Float32Array) : fromHalfBits(w as Uint16Array, dtype);
  const b = bias === undefined ? undefined : dtype === 'float32' ? (bias as Float32Array) : fromHalfBits(bias as Uint16Array, dtype);
  for (let v = 0; v < V; v++) {
    const off = v * d;
    for (let r = 0; r < rows; r++) {
      const h = r * d;
      let s = 0;
      for (let i = 0; i < d; i++) s += W[off + i] * hidden[h + i];
      out[r * V + v] = s + (b ? b[v] : 0);
    }
  }
  return out;
}
