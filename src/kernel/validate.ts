/**
 * Turns user arguments into a checked kernel request. Every error says which argument was wrong and what was
 * expected; the native addon checks the same request again.
 */
import { InvalidArgTypeError, OutOfRangeError } from '../errors';
import { DEFAULT_ALPHA } from '../config/generation';
import type { ContrastMode, ContrastOptions, Dtype, Logits, SparseContrastOptions } from './types';

/** Dtype codes shared with the native addon. */
export const DTYPE_CODE: Record<Dtype, 0 | 1 | 2> = { float32: 0, float16: 1, bfloat16: 2 };
const MAX_VOCAB = 2 ** 31 - 1;

/** A validated dense request, in the shape the native addon reads. */
export interface DenseRequest {
  expert: Float32Array | Uint16Array;
  amateur: Float32Array | Uint16Array;
  dtype: 0 | 1 | 2;
  rows: number;
  vocab: number;
  mode: 0 | 1;
  alpha: number;
  minCandidates: number;
  beta?: number;
  out: Float32Array;
  headSize?: Int32Array;
  headMass?: Float32Array;
  isa?: string;
  threads?: number;
  device?: 'cpu' | 'cuda';
  cudaDevice?: number;
  cudaDir?: string;
}

/** A validated sparse request (amateur from a hidden state and an exit head). */
export interface SparseRequest extends Omit<DenseRequest, 'amateur'> {
  hidden: Float32Array;
  hiddenSize: number;
  headWeight: Float32Array | Uint16Array;
  headBias?: Float32Array | Uint16Array;
  weightDtype: 0 | 1 | 2;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an Array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}

/** A TypeError in the library's message style. */
export function typeError(name: string, expected: string, actual: unknown): TypeError {
  return new InvalidArgTypeError(`Expected ${name} to be ${expected} but received ${describe(actual)}`);
}

function isFloat16Array(v: unknown): boolean {
  const ctor = (globalThis as { Float16Array?: new (...a: unknown[]) => unknown }).Float16Array;
  return ctor !== undefined && v instanceof ctor;
}

/** Checks a logits argument and returns it as a Float32Array or a Uint16Array view, with its dtype. */
export function checkLogits(name: string, v: unknown, dtype: Dtype | undefined): { data: Logits; dtype: Dtype } {
  if (v instanceof Float32Array) {
    if (dtype !== undefined && dtype !== 'float32')
      throw new InvalidArgTypeError(`Expected ${name} to be a Uint16Array of ${dtype} bits (dtype '${dtype}') but received Float32Array`);
    return { data: v, dtype: 'float32' };
  }
  if (isFloat16Array(v)) {
    if (dtype !== undefined && dtype !== 'float16')
      throw new InvalidArgTypeError(`Expected ${name} to match dtype '${dtype}' but received Float16Array`);
    const a = v as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
    return { data: new Uint16Array(a.buffer, a.byteOffset, a.length), dtype: 'float16' };
  }
  if (v instanceof Uint16Array) {
    if (dtype !== 'float16' && dtype !== 'bfloat16')
      throw new InvalidArgTypeError(
        `Expected dtype 'float16' or 'bfloat16' with a Uint16Array ${name} (it holds 16-bit float bits) but received dtype ${
          dtype === undefined ? 'undefined' : `'${dtype}'`
        }`,
      );
    return { data: v, dtype };
  }
  throw typeError(name, 'a Float32Array, or a Uint16Array of float16/bfloat16 bits', v);
}

function checkDtype(name: string, v: unknown): Dtype | undefined {
  if (v === undefined) return undefined;
  if (v === 'float32' || v === 'float16' || v === 'bfloat16') return v;
  throw typeError(name, "'float32', 'float16' or 'bfloat16'", v);
}

/** Checks an integer option in [lo, hi]. */
export function checkInt(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(name, 'an integer', v);
  if (v < lo || v > hi) throw new OutOfRangeError(`Expected ${name} in [${lo}, ${hi}] but received ${v}`);
  return v;
}

function checkOptionsObject(options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw typeError('options', 'an object', options);
  return options as Record<string, unknown>;
}

const KNOWN_OPTIONS = new Set([
  'vocabSize', 'alpha', 'minCandidates', 'beta', 'dtype', 'out', 'headSize', 'headMass', 'backend',
  'headBias', 'weightDtype', 'threads', 'device', 'cudaDevice',
]);

function common(
  o: Record<string, unknown>,
  expertIn: unknown,
  mode: ContrastMode,
  sparse: boolean,
): Omit<DenseRequest, 'amateur'> & { dtypeName: Dtype } {
  for (const k of Object.keys(o))
    if (!KNOWN_OPTIONS.has(k) || (!sparse && (k === 'headBias' || k === 'weightDtype')))
      throw new InvalidArgTypeError(`Unknown option '${k}'`);
  const dtypeOpt = checkDtype('options.dtype', o.dtype);
  const expert = checkLogits('expert', expertIn, dtypeOpt);
  const n = expert.data.length;
  if (n === 0) throw new OutOfRangeError('Expected expert to hold at least one logit but it is empty');
  const vocab = o.vocabSize === undefined ? n : checkInt('options.vocabSize', o.vocabSize, 1, MAX_VOCAB);
  if (n % vocab !== 0)
    throw new OutOfRangeError(`Expected expert length ${n} to be a multiple of vocabSize ${vocab} (rows x vocabSize)`);
  const rows = n / vocab;
  let alpha = DEFAULT_ALPHA;
  if (o.alpha !== undefined) {
    if (typeof o.alpha !== 'number') throw typeError('options.alpha', 'a number in [0, 1]', o.alpha);
    if (!(o.alpha >= 0 && o.alpha <= 1)) throw new OutOfRangeError(`Expected options.alpha in [0, 1] but received ${o.alpha}`);
    alpha = o.alpha;
  }
  const minCandidates = o.minCandidates === undefined ? 1 : checkInt('options.minCandidates', o.minCandidates, 1, vocab);
  let beta: number | undefined;
  if (o.beta !== undefined) {
    if (typeof o.beta !== 'number') throw typeError('options.beta', 'a number >= 0', o.beta);
    if (!Number.isFinite(o.beta) || o.beta < 0 || o.beta > 1e6)
      throw new OutOfRangeError(`Expected options.beta to be a finite number >= 0 but received ${o.beta}`);
    beta = o.beta;
  }
  let out: Float32Array;
  if (o.out === undefined) out = new Float32Array(n);
  else if (!(o.out instanceof Float32Array)) throw typeError('options.out', 'a Float32Array', o.out);
  else if (o.out.length !== n)
    throw new OutOfRangeError(`Expected options.out to have ${n} elements (rows x vocabSize) but it has ${o.out.length}`);
  else out = o.out;
  let headSize: Int32Array | undefined;
  if (o.headSize !== undefined) {
    if (!(o.headSize instanceof Int32Array)) throw typeError('options.headSize', 'an Int32Array', o.headSize);
    if (o.headSize.length !== rows)
      throw new OutOfRangeError(`Expected options.headSize to have ${rows} elements (one per row) but it has ${o.headSize.length}`);
    headSize = o.headSize;
  }
  let headMass: Float32Array | undefined;
  if (o.headMass !== undefined) {
    if (!(o.headMass instanceof Float32Array)) throw typeError('options.headMass', 'a Float32Array', o.headMass);
    if (o.headMass.length !== rows)
      throw new OutOfRangeError(`Expected options.headMass to have ${rows} elements (one per row) but it has ${o.headMass.length}`);
    headMass = o.headMass;
  }
  const threads = o.threads === undefined ? undefined : checkInt('options.threads', o.threads, 0, 1024);
  if (o.device !== undefined && o.device !== 'cpu' && o.device !== 'cuda') throw typeError('options.device', "'cpu' or 'cuda'", o.device);
  const cudaDevice = o.cudaDevice === undefined ? undefined : checkInt('options.cudaDevice', o.cudaDevice, 0, 1023);
  if (cudaDevice !== undefined && o.device !== 'cuda') throw new InvalidArgTypeError("options.cudaDevice is for device 'cuda'");
  return {
    threads,
    device: o.device as 'cpu' | 'cuda' | undefined,
    cudaDevice,
    expert: expert.data,
    dtype: DTYPE_CODE[expert.dtype],
    dtypeName: expert.dtype,
    rows,
    vocab,
    mode: mode === 'cd' ? 1 : 0,
    alpha,
    minCandidates,
    beta,
    out,
    headSize,
    headMass,
  };
}

/** Validates the arguments of a dense contrast call. */
export function denseRequest(expert: unknown, amateur: unknown, options: unknown, mode: ContrastMode): DenseRequest & { dtypeName: Dtype } {
  const o = checkOptionsObject(options) as ContrastOptions & Record<string, unknown>;
  const req = common(o, expert, mode, false);
  const am = checkLogits('amateur', amateur, req.dtypeName);
  if (am.dtype !== req.dtypeName)
    throw new InvalidArgTypeError(`Expected amateur to have the expert's dtype '${req.dtypeName}' but it is '${am.dtype}'`);
  if (am.data.length !== req.expert.length)
    throw new OutOfRangeError(
      `Expected amateur to have ${req.expert.length} elements like expert (rows x vocabSize) but it has ${am.data.length}`,
    );
  return { ...req, amateur: am.data };
}

/** Validates the arguments of a sparse contrast call. */
/** Refuses a NaN or infinite hidden-state value, naming its row and index (shared by the plain and prepared calls). */
export function checkFiniteHidden(hidden: Float32Array, hiddenSize: number): void {
  for (let i = 0; i < hidden.length; i++)
    if (!Number.isFinite(hidden[i]))
      throw new OutOfRangeError(
        `Expected finite values in hidden but row ${Math.floor(i / hiddenSize)}, index ${i % hiddenSize} is ${hidden[i]}`,
      );
}

export function sparseRequest(
  expert: unknown,
  hidden: unknown,
  headWeight: unknown,
  options: unknown,
  mode: ContrastMode,
): SparseRequest & { dtypeName: Dtype; weightDtypeName: Dtype } {
  const o = checkOptionsObject(options) as SparseContrastOptions & Record<string, unknown>;
  const req = common(o, expert, mode, true);
  if (!(hidden instanceof Float32Array)) throw typeError('hidden', 'a Float32Array', hidden);
  if (hidden.length === 0 || hidden.length % req.rows !== 0)
    throw new OutOfRangeError(`Expected hidden to hold rows x hiddenSize values (rows = ${req.rows}) but it has ${hidden.length}`);
  const hiddenSize = hidden.length / req.rows;
  let wdt = checkDtype('options.weightDtype', o.weightDtype);
  if (wdt === undefined) wdt = headWeight instanceof Uint16Array ? (req.dtypeName === 'float32' ? undefined : req.dtypeName) : 'float32';
  const w = checkLogits('headWeight', headWeight, wdt);
  if (w.data.length !== req.vocab * hiddenSize)
    throw new OutOfRangeError(
      `Expected headWeight to have vocabSize x hiddenSize = ${req.vocab} x ${hiddenSize} = ${req.vocab * hiddenSize} elements but it has ${w.data.length}`,
    );
  let headBias: Float32Array | Uint16Array | undefined;
  if (o.headBias !== undefined) {
    const b = checkLogits('options.headBias', o.headBias, w.dtype);
    if (b.data.length !== req.vocab)
      throw new OutOfRangeError(`Expected options.headBias to have vocabSize = ${req.vocab} elements but it has ${b.data.length}`);
    headBias = b.data;
  }
  checkFiniteHidden(hidden, hiddenSize);
  return {
    ...req,
    hidden,
    hiddenSize,
    headWeight: w.data,
    headBias,
    weightDtype: DTYPE_CODE[w.dtype],
    weightDtypeName: w.dtype,
  };
}
