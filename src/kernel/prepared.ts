/**
 * The pre-validated call form: the options are checked once by `createContrast` / `createSparseContrast`, and
 * each `run()` checks only the arrays it is given (type, length, finite values). For decoding loops and small
 * rows, where the plain functions' per-call option handling costs more than the kernel itself.
 */
import { OutOfRangeError } from '../errors';
import { route } from './contrast';
import { contrastDenseJs, contrastSparseJs } from './fallback';
import type { Backend, ContrastMode, Dtype, Logits } from './types';
import { checkFiniteHidden, checkLogits, denseRequest, sparseRequest, typeError, type DenseRequest, type SparseRequest } from './validate';

/** Options of `createContrast`: fixed for every `run()` of the object it returns. */
export interface PreparedContrastOptions {
  /** Vocabulary size V. */
  vocabSize: number;
  /** Rows per call (each `run()` takes exactly `rows x V` logits). Default 1. */
  rows?: number;
  /** 'acd' (default, Gera et al. 2023) or 'cd' (Li et al. 2022), as in `contrast()`. */
  mode?: ContrastMode;
  /** Plausibility threshold in [0, 1]; the same default as the plain functions. */
  alpha?: number;
  /** The head holds at least this many tokens, in [1, V]; default 1. */
  minCandidates?: number;
  /** O'Brien & Lewis weighting (see `ContrastOptions.beta`). */
  beta?: number;
  /** Element type of the logits; default float32. */
  dtype?: Dtype;
  /** Runs this implementation instead of the fastest available one (see `availableBackends()`). */
  backend?: Backend;
  /** Threads for a batch (native only): 0 (default) the row pool, 1 the calling thread only. */
  threads?: number;
}

/** Options of `createSparseContrast`: the amateur is the linear exit `headWeight · hidden (+ headBias)`. */
export interface PreparedSparseContrastOptions extends PreparedContrastOptions {
  /** The exit head `[V x d]`; held by the object (not copied), so later changes to it are seen by `run()`. */
  headWeight: Logits;
  /** The exit head's bias `[V]`, same dtype as the weight. */
  headBias?: Logits;
  /** Element type of the head weight and bias. Default: `dtype` for Uint16Array weights, else float32. */
  weightDtype?: Dtype;
}

/** Shared members of the prepared forms. */
export interface PreparedContrastBase {
  readonly rows: number;
  readonly vocabSize: number;
  readonly dtype: Dtype;
  readonly mode: ContrastMode;
  /** The implementation that runs. */
  readonly backend: Backend;
  /** Each row's head size after the latest `run()` (overwritten by the next). */
  readonly headSize: Int32Array;
  /** Each row's head mass after the latest `run()` (overwritten by the next). */
  readonly headMass: Float32Array;
}

/** A dense contrast with fixed options (from `createContrast`). */
export interface PreparedContrast extends PreparedContrastBase {
  /**
   * Log-probabilities for `rows x V` expert and amateur logits, the same values as `acdLogProbs` / `cdScores`
   * with these options. Without `out` the result is the object's own buffer, overwritten by the next `run()`:
   * copy it, or pass `out`, to keep it.
   */
  run(expert: Logits, amateur: Logits, out?: Float32Array): Float32Array;
}

/** A sparse-amateur contrast with fixed options and exit head (from `createSparseContrast`). */
export interface PreparedSparseContrast extends PreparedContrastBase {
  /** Width d of the hidden state. */
  readonly hiddenSize: number;
  /** As `acdLogProbsSparse` / `cdScoresSparse` with these options; `out` as in `PreparedContrast.run`. */
  run(expert: Logits, hidden: Float32Array, out?: Float32Array): Float32Array;
}

const OWN_KEYS = new Set(['rows', 'mode', 'backend', 'headWeight']);

function checkSpec(spec: unknown, sparse: boolean): { o: Record<string, unknown>; rows: number; mode: ContrastMode } {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw typeError('options', 'an object', spec);
  const o = spec as Record<string, unknown>;
  if (o.vocabSize === undefined) throw typeError('options.vocabSize', 'an integer', undefined);
  for (const k of ['device', 'cudaDevice', 'out', 'headSize', 'headMass'])
    if (o[k] !== undefined) throw new TypeError(`Unknown option '${k}' (the prepared form runs on the CPU; pass out to run())`);
  if (!sparse && o.headWeight !== undefined) throw new TypeError("Unknown option 'headWeight' (use createSparseContrast)");
  const rows = o.rows === undefined ? 1 : o.rows;
  if (typeof rows !== 'number' || !Number.isInteger(rows)) throw typeError('options.rows', 'an integer', rows);
  if (rows < 1 || rows > 2 ** 31 - 1) throw new OutOfRangeError(`Expected options.rows in [1, ${2 ** 31 - 1}] but received ${rows}`);
  const mode = o.mode === undefined ? 'acd' : o.mode;
  if (mode !== 'acd' && mode !== 'cd') throw typeError('options.mode', "'acd' or 'cd'", mode);
  return { o, rows, mode };
}

/** The options the plain functions validate (everything except what the prepared form owns). */
function functionOptions(o: Record<string, unknown>, out: Float32Array): Record<string, unknown> {
  const f: Record<string, unknown> = { out };
  for (const k of Object.keys(o)) if (!OWN_KEYS.has(k) && o[k] !== undefined) f[k] = o[k];
  return f;
}

function placeholder(dtype: unknown, n: number): Logits {
  return dtype === 'float16' || dtype === 'bfloat16' ? new Uint16Array(n) : new Float32Array(n);
}

function checkArray(name: string, v: unknown, dtype: Dtype, n: number): Logits {
  const a = checkLogits(name, v, dtype);
  if (a.dtype !== dtype) throw new TypeError(`Expected ${name} to have dtype '${dtype}' but it is '${a.dtype}'`);
  if (a.data.length !== n)
    throw new OutOfRangeError(`Expected ${name} to have ${n} elements (rows x vocabSize) but it has ${a.data.length}`);
  return a.data;
}

function checkOut(out: unknown, n: number): Float32Array {
  if (!(out instanceof Float32Array)) throw typeError('out', 'a Float32Array', out);
  if (out.length !== n) throw new OutOfRangeError(`Expected out to have ${n} elements (rows x vocabSize) but it has ${out.length}`);
  return out;
}

/** Outputs are written while inputs are read: the fallback refuses overlap as the native addon does. */
function refuseOverlap(out: Float32Array, inputs: Record<string, ArrayBufferView>): void {
  for (const [name, a] of Object.entries(inputs))
    if (a.buffer === out.buffer && a.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < a.byteOffset + a.byteLength)
      throw new OutOfRangeError(`out must not share memory with ${name}`);
}

function backendName(isa: string | undefined, native: unknown): Backend {
  if (!native) return 'js';
  return `native-${isa ?? (native as { isa(): string }).isa()}` as Backend;
}

/**
 * Checks the options once and returns an object whose `run(expert, amateur, out?)` computes the same
 * log-probabilities as `acdLogProbs` (mode 'acd') or `cdScores` (mode 'cd'), checking only the arrays.
 * Errors (wrong options, arrays of the wrong type or length, NaN or infinite logits) are those of the plain
 * functions.
 * @example
 * const acd = createContrast({ vocabSize: 50257, alpha: 0.1 });
 * for (;;) { const logp = acd.run(expertLogits, amateurLogits); ... }
 */
export function createContrast(options: PreparedContrastOptions): PreparedContrast {
  const { o, rows, mode } = checkSpec(options, false);
  const vocab = typeof o.vocabSize === 'number' ? o.vocabSize : NaN;
  const n = rows * (Number.isInteger(vocab) && vocab > 0 ? vocab : 1);
  const own = new Float32Array(n);
  const template = denseRequest(placeholder(o.dtype, n), placeholder(o.dtype, n), functionOptions(o, own), mode);
  const { native, isa } = route({ backend: o.backend });
  const req: DenseRequest = { ...template, headSize: new Int32Array(rows), headMass: new Float32Array(rows) };
  if (isa) req.isa = isa;
  const dtype = template.dtypeName;
  const prepared = native && typeof native.contrastPrepare === 'function' ? native.contrastPrepare(req) : null;
  const headSize = req.headSize!, headMass = req.headMass!;
  return {
    rows, vocabSize: req.vocab, dtype, mode, backend: backendName(isa, native), headSize, headMass,
    run(expert: Logits, amateur: Logits, out?: Float32Array): Float32Array {
      const e = checkArray('expert', expert, dtype, n);
      const a = checkArray('amateur', amateur, dtype, n);
      const o2 = out === undefined ? own : checkOut(out, n);
      if (prepared) {
        native!.contrastRun(prepared, e, a, o2, headSize, headMass);
      } else {
        refuseOverlap(o2, { expert: e, amateur: a });
        req.expert = e;
        req.amateur = a;
        req.out = o2;
        if (native) native.contrast(req);
        else contrastDenseJs(req);
      }
      return o2;
    },
  };
}

/**
 * `createContrast` for the sparse amateur (`acdLogProbsSparse` / `cdScoresSparse`): the exit head is given once;
 * `run(expert, hidden, out?)` takes the hidden states `[rows x d]`.
 */
export function createSparseContrast(options: PreparedSparseContrastOptions): PreparedSparseContrast {
  const { o, rows, mode } = checkSpec(options, true);
  const vocab = typeof o.vocabSize === 'number' && Number.isInteger(o.vocabSize) && o.vocabSize > 0 ? o.vocabSize : 1;
  const w = o.headWeight as { length?: unknown } | undefined;
  const d = w && typeof w.length === 'number' && w.length > 0 && w.length % vocab === 0 ? w.length / vocab : 1;
  const n = rows * vocab;
  const own = new Float32Array(n);
  const template = sparseRequest(placeholder(o.dtype, n), new Float32Array(rows * d), o.headWeight, functionOptions(o, own), mode);
  const { native, isa } = route({ backend: o.backend });
  const req: SparseRequest = { ...template, headSize: new Int32Array(rows), headMass: new Float32Array(rows) };
  if (isa) req.isa = isa;
  const dtype = template.dtypeName;
  const prepared = native && typeof native.contrastPrepareSparse === 'function' ? native.contrastPrepareSparse(req) : null;
  const headSize = req.headSize!, headMass = req.headMass!;
  return {
    rows, vocabSize: req.vocab, dtype, mode, backend: backendName(isa, native), headSize, headMass, hiddenSize: d,
    run(expert: Logits, hidden: Float32Array, out?: Float32Array): Float32Array {
      const e = checkArray('expert', expert, dtype, n);
      if (!(hidden instanceof Float32Array)) throw typeError('hidden', 'a Float32Array', hidden);
      if (hidden.length !== rows * d)
        throw new OutOfRangeError(`Expected hidden to have ${rows * d} elements (rows x hiddenSize) but it has ${hidden.length}`);
      const o2 = out === undefined ? own : checkOut(out, n);
      // Checked here for every backend (d values, cheap beside the V-wide work), so the error is the plain call's.
      checkFiniteHidden(hidden, d);
      if (prepared) {
        native!.contrastRun(prepared, e, hidden, o2, headSize, headMass);
      } else {
        refuseOverlap(o2, { expert: e, hidden });
        req.expert = e;
        req.hidden = hidden;
        req.out = o2;
        if (native) native.contrastSparse(req);
        else contrastSparseJs(req);
      }
      return o2;
    },
  };
}

