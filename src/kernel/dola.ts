/**
 * Layer selection by divergence: DoLa (Chuang et al., ICLR 2024) and ACD / CD with the amateur layer chosen per
 * step (`amateurLayer: 'auto'`). For each row, every candidate layer's distribution is compared with the final
 * layer's; the candidate farthest away is the premature (amateur) layer of that row, and the contrast is taken
 * against it. Native (one batched head projection for all rows x candidates, SIMD softmax + divergence, threads)
 * when the addon is loaded, else the TypeScript fallback below (same semantics, float64).
 *
 * Semantics follow transformers' `_dola_select_contrast` / `_relative_top_filter` (4.43-4.5x), except that the
 * layer is chosen per row (transformers averages the divergences over the batch and picks one layer for all rows).
 */
import { DEFAULT_ALPHA } from '../config/generation';
import type { NativeAddon } from './addon';
import type { CompactHead } from './compact-head';
import { int8Dot, int8Head, INT8_BLOCK, quantiseBlocks, type Int8Head } from './int8-head';
import { loadNative } from './native';
import { DTYPE_CODE } from './validate';
import type { Backend, Dtype } from './types';

/** Candidate layers as hidden states and the head that projects them, or as logits. */
export type DolaCandidates =
  | {
      /** Per candidate layer, its hidden states `[rows x hiddenSize]` (the vector the head multiplies). */
      hidden: readonly Float32Array[];
      /**
       * Head matrix `[V x hiddenSize]` (float32, or float16 / bfloat16 bits in a Uint16Array), or its lossless int8
       * block form from {@link compactHead} (a quarter of the bytes read per step; bias then float32).
       */
      headWeight: Float32Array | Uint16Array | CompactHead;
      /** Element type of headWeight / headBias (default float32 for a Float32Array, float16 for a Uint16Array). */
      weightDtype?: Dtype;
      /** Optional head bias `[V]`. */
      headBias?: Float32Array | Uint16Array;
      /** Hidden width d. */
      hiddenSize: number;
      /**
       * The final layer's hidden states `[rows x hiddenSize]`, when its logits are not computed yet: they are
       * projected by the same head in the same pass as the candidates (the head read once for all layers) and
       * written into `finalLogits`, which is then an output (it must not share memory with `out`).
       */
      finalHidden?: Float32Array;
    }
  | {
      /** Per candidate layer, its logits `[rows x V]`. */
      logits: readonly Float32Array[];
    };

/** What the kernel writes: DoLa's scores, or ACD / CD against the chosen layer. */
export type DolaOutput = 'dola' | 'acd' | 'cd';

/**
 * How candidates are ranked. `dola` (default): what DoLa's code and transformers compute,
 * `0.5 (KL(M||P) + KL(M||Q)) / V` with `M = (P + Q) / 2`; `jsd`: the textbook Jensen-Shannon divergence
 * `0.5 (KL(P||M) + KL(Q||M))` (DoLa paper, Eq. 3). Both are symmetric; they can rank candidates differently.
 */
export type DolaDivergence = 'dola' | 'jsd';

/**
 * How the candidates are projected. `exact` (default): with the head's own values (float32 products; an int8 block
 * head is read as such, with identical logits). `int8`: an opt-in approximation (`dolaHead: 'int8'`): the head in
 * int8 per block of 32 (a GGUF Q8_0 head's own codes), each step's hidden states quantised the same way, products
 * in int32 (native/kernels/head_i8.h). Only the candidates take it; the final layer keeps the exact head (with it in
 * int8 too, 1 of 20 parity prompts still matched transformers, against 14 of 20 with the candidates only).
 */
export type DolaHead = 'exact' | 'int8';

/** Options of {@link dolaContrast}. */
export interface DolaOptions {
  /** Vocabulary size V (finalLogits holds rows x V values; default: one row). */
  vocabSize?: number;
  /** `dola` (default): `log p_final - log p_premature` on the head, `-Infinity` elsewhere; `acd` / `cd`: see contrast(). */
  output?: DolaOutput;
  /** Ranking of candidates (default `dola`). */
  divergence?: DolaDivergence;
  /** Plausibility threshold in [0, 1] (DoLa's relative_top, ACD's alpha; default 0.1). */
  alpha?: number;
  /** Minimum head size (default 1; transformers' min_tokens_to_keep). */
  minCandidates?: number;
  /** CD weighting (output `cd` only). */
  beta?: number;
  /** Output `[rows x V]` (allocated when absent). */
  out?: Float32Array;
  /** The candidates' projection (default `exact`; see {@link DolaHead}). Projected candidates only. */
  head?: DolaHead;
  /** Implementation (default: the fastest available). */
  backend?: Backend;
  /** Threads (0: automatic, 1: the calling thread only). */
  threads?: number;
}

/** What {@link dolaContrast} returns. */
export interface DolaResult {
  /** Scores or log-probabilities `[rows x V]` (see {@link DolaOptions.output}). */
  scores: Float32Array;
  /** Per row, the index into the candidate list of the chosen (premature / amateur) layer. */
  chosen: Int32Array;
  /** Per row and candidate, the divergence from the final layer, `[rows x C]` (`dola`: a mean over the vocabulary, as transformers reports it). */
  divergences: Float32Array;
  /** Per row, the head size. */
  headSize: Int32Array;
  /** Per row, the final layer's probability mass on the head. */
  headMass: Float32Array;
}

/** An error of this module: a TypeError or RangeError with a stable `code`. */
export type DolaError = (TypeError | RangeError) & { code: string };

/** Builds an error with a stable code (`ERR_DOLA_*`). */
export function dolaError(kind: 'type' | 'range', code: string, message: string): DolaError {
  const e = (kind === 'type' ? new TypeError(message) : new RangeError(message)) as DolaError;
  e.code = code;
  return e;
}

const OUTPUT_CODE: Record<DolaOutput, number> = { dola: 0, acd: 1, cd: 2 };
const DIVERGENCE_CODE: Record<DolaDivergence, number> = { dola: 0, jsd: 1 };
const KNOWN = new Set(['vocabSize', 'output', 'divergence', 'alpha', 'minCandidates', 'beta', 'out', 'head', 'backend', 'threads']);

interface Checked {
  rows: number;
  V: number;
  C: number;
  output: DolaOutput;
  divergence: DolaDivergence;
  alpha: number;
  minCandidates: number;
  beta?: number;
  out: Float32Array;
  projected?: { hidden: readonly Float32Array[]; weight: Float32Array | Uint16Array | CompactHead; dtype: Dtype; bias?: Float32Array | Uint16Array; d: number; finalHidden?: Float32Array; int8?: Int8Head };
  logits?: readonly Float32Array[];
}

function isCompact(w: unknown): w is CompactHead {
  return typeof w === 'object' && w !== null && (w as CompactHead).q8 instanceof Int8Array && (w as CompactHead).scale instanceof Float32Array;
}

function weightDtype(w: unknown, given: Dtype | undefined): Dtype {
  if (w instanceof Float32Array || isCompact(w)) {
    if (given !== undefined && given !== 'float32') throw dolaError('type', 'ERR_DOLA_ARGUMENT', `a Float32Array headWeight needs weightDtype 'float32', got '${given}'`);
    return 'float32';
  }
  if (w instanceof Uint16Array) {
    const d = given ?? 'float16';
    if (d !== 'float16' && d !== 'bfloat16') throw dolaError('type', 'ERR_DOLA_ARGUMENT', `a Uint16Array headWeight needs weightDtype 'float16' or 'bfloat16', got '${String(d)}'`);
    return d;
  }
  throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected candidates.headWeight to be a Float32Array or a Uint16Array (16-bit float bits)');
}

function check(finalLogits: Float32Array, candidates: DolaCandidates, options: DolaOptions): Checked {
  const bad = (msg: string) => dolaError('range', 'ERR_DOLA_ARGUMENT', msg);
  if (!(finalLogits instanceof Float32Array)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected finalLogits to be a Float32Array');
  for (const k of Object.keys(options)) if (!KNOWN.has(k)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Unknown option '${k}' (known: ${[...KNOWN].join(', ')})`);
  const V = options.vocabSize ?? finalLogits.length;
  if (!Number.isInteger(V) || V < 1) throw bad(`Expected options.vocabSize to be a positive integer but received ${String(V)}`);
  if (finalLogits.length === 0 || finalLogits.length % V !== 0) throw bad(`finalLogits holds ${finalLogits.length} values, not a positive multiple of vocabSize ${V}`);
  const rows = finalLogits.length / V;
  const output = options.output ?? 'dola';
  if (!(output in OUTPUT_CODE)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected options.output 'dola', 'acd' or 'cd' but received '${String(output)}'`);
  const divergence = options.divergence ?? 'dola';
  if (!(divergence in DIVERGENCE_CODE)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected options.divergence 'dola' or 'jsd' but received '${String(divergence)}'`);
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) throw bad(`Expected options.alpha in [0, 1] but received ${String(alpha)}`);
  const minCandidates = options.minCandidates ?? 1;
  if (!Number.isInteger(minCandidates) || minCandidates < 1 || minCandidates > V) throw bad(`Expected options.minCandidates to be an integer in [1, ${V}] but received ${String(minCandidates)}`);
  if (options.beta !== undefined) {
    if (output !== 'cd') throw dolaError('type', 'ERR_DOLA_ARGUMENT', "options.beta is for output 'cd'");
    if (typeof options.beta !== 'number' || !(options.beta >= 0) || !Number.isFinite(options.beta)) throw bad(`Expected options.beta >= 0 but received ${String(options.beta)}`);
  }
  const out = options.out ?? new Float32Array(rows * V);
  if (!(out instanceof Float32Array) || out.length !== rows * V) throw bad(`options.out must be a Float32Array of rows x vocabSize = ${rows * V} values`);
  const head = options.head ?? 'exact';
  if (head !== 'exact' && head !== 'int8') throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected options.head 'exact' or 'int8' but received ${typeof head === 'string' ? `'${head}'` : String(head)}`);
  const base = { rows, V, output, divergence, alpha, minCandidates, ...(options.beta !== undefined ? { beta: options.beta } : {}), out };
  if (candidates === null || typeof candidates !== 'object') throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected candidates to be { hidden, headWeight, hiddenSize } or { logits }');
  if ('hidden' in candidates) {
    const { hidden, headWeight, headBias, hiddenSize: d } = candidates;
    if (!Array.isArray(hidden)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected candidates.hidden to be an array of Float32Arrays');
    if (hidden.length === 0) throw dolaError('range', 'ERR_DOLA_NO_CANDIDATES', 'Expected at least one candidate layer (candidates.hidden is empty)');
    if (!Number.isInteger(d) || d < 1) throw bad(`Expected candidates.hiddenSize to be a positive integer but received ${String(d)}`);
    hidden.forEach((h, c) => {
      if (!(h instanceof Float32Array)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected candidates.hidden[${c}] to be a Float32Array`);
      if (h.length !== rows * d) throw bad(`candidates.hidden[${c}] holds ${h.length} values, expected rows x hiddenSize = ${rows * d}`);
    });
    const dtype = weightDtype(headWeight, candidates.weightDtype);
    if (isCompact(headWeight)) {
      if (d % 32 !== 0) throw bad(`a compact headWeight needs hiddenSize to be a multiple of 32, got ${d}`);
      if (headWeight.q8.length !== V * d || headWeight.scale.length !== (V * d) / 32) throw bad(`the compact headWeight holds ${headWeight.q8.length} values and ${headWeight.scale.length} scales, expected ${V * d} and ${(V * d) / 32}`);
    } else if (headWeight.length !== V * d) {
      throw bad(`candidates.headWeight holds ${headWeight.length} values, expected vocabSize x hiddenSize = ${V * d}`);
    }
    if (headBias !== undefined) {
      if (dtype === 'float32' ? !(headBias instanceof Float32Array) : !(headBias instanceof Uint16Array)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected candidates.headBias to have the weight's element type (${dtype})`);
      if (headBias.length !== V) throw bad(`candidates.headBias holds ${headBias.length} values, expected vocabSize = ${V}`);
    }
    const { finalHidden } = candidates;
    if (finalHidden !== undefined) {
      if (!(finalHidden instanceof Float32Array)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected candidates.finalHidden to be a Float32Array');
      if (finalHidden.length !== rows * d) throw bad(`candidates.finalHidden holds ${finalHidden.length} values, expected rows x hiddenSize = ${rows * d}`);
      const [a, b] = [finalLogits, out].map((x) => [x.byteOffset, x.byteOffset + x.byteLength]);
      if (finalLogits.buffer === out.buffer && a[0] < b[1] && b[0] < a[1]) throw bad('with candidates.finalHidden, finalLogits is written and must not share memory with options.out');
    }
    if (head === 'int8' && d % INT8_BLOCK !== 0) throw bad(`options.head 'int8' needs hiddenSize to be a multiple of ${INT8_BLOCK}, got ${d}`);
    const int8 = head === 'int8' ? int8Head(headWeight, V, d, dtype) : undefined;
    return { ...base, C: hidden.length, projected: { hidden, weight: headWeight, dtype, ...(headBias ? { bias: headBias } : {}), d, ...(finalHidden ? { finalHidden } : {}), ...(int8 ? { int8 } : {}) } };
  }
  if ('logits' in candidates) {
    if (head !== 'exact') throw dolaError('type', 'ERR_DOLA_ARGUMENT', "options.head 'int8' is for candidates given as hidden states (logits are not projected)");
    const { logits } = candidates;
    if (!Array.isArray(logits)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected candidates.logits to be an array of Float32Arrays');
    if (logits.length === 0) throw dolaError('range', 'ERR_DOLA_NO_CANDIDATES', 'Expected at least one candidate layer (candidates.logits is empty)');
    logits.forEach((z, c) => {
      if (!(z instanceof Float32Array)) throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected candidates.logits[${c}] to be a Float32Array`);
      if (z.length !== rows * V) throw bad(`candidates.logits[${c}] holds ${z.length} values, expected rows x vocabSize = ${rows * V}`);
    });
    return { ...base, C: logits.length, logits };
  }
  throw dolaError('type', 'ERR_DOLA_ARGUMENT', 'Expected candidates to be { hidden, headWeight, hiddenSize } or { logits }');
}

function route(backend: Backend | undefined): { native: NativeAddon | null; isa?: string } {
  if (backend === 'js') return { native: null };
  const n = loadNative();
  if (backend === undefined) return { native: n?.dolaSelect ? n : null };
  const isa = backend.slice('native-'.length);
  if (!n?.dolaSelect || !n.isas().includes(isa)) throw dolaError('range', 'ERR_DOLA_BACKEND', `backend '${backend}' is not available here`);
  return { native: n, isa };
}

function request(c: Checked, result: DolaResult, isa: string | undefined, threads: number | undefined): Record<string, unknown> {
  return {
    finalLogits: undefined,
    rows: c.rows,
    vocab: c.V,
    ...(c.projected
      ? {
          hidden: c.projected.hidden,
          hiddenSize: c.projected.d,
          ...(isCompact(c.projected.weight) ? { headQ8: c.projected.weight.q8, headScale: c.projected.weight.scale } : { headWeight: c.projected.weight }),
          weightDtype: DTYPE_CODE[c.projected.dtype],
          ...(c.projected.bias ? { headBias: c.projected.bias } : {}),
          ...(c.projected.finalHidden ? { finalHidden: c.projected.finalHidden } : {}),
          ...(c.projected.int8 ? { headI8Codes: c.projected.int8.codes, headI8Scales: c.projected.int8.scales } : {}),
        }
      : { candidateLogits: c.logits }),
    divergence: DIVERGENCE_CODE[c.divergence],
    output: OUTPUT_CODE[c.output],
    mode: c.output === 'cd' ? 1 : 0,
    alpha: c.alpha,
    minCandidates: c.minCandidates,
    ...(c.beta !== undefined ? { beta: c.beta } : {}),
    out: result.scores,
    chosen: result.chosen,
    divergences: result.divergences,
    headSize: result.headSize,
    headMass: result.headMass,
    ...(isa ? { isa } : {}),
    ...(threads !== undefined ? { threads } : {}),
  };
}

function emptyResult(c: Checked): DolaResult {
  return { scores: c.out, chosen: new Int32Array(c.rows), divergences: new Float32Array(c.rows * c.C), headSize: new Int32Array(c.rows), headMass: new Float32Array(c.rows) };
}

/**
 * Chooses, per row, the candidate layer whose distribution diverges most from the final layer's, and contrasts
 * the final layer with it. `finalLogits` is `[rows x V]`.
 * @throws TypeError / RangeError with `code` (`ERR_DOLA_ARGUMENT`, `ERR_DOLA_NO_CANDIDATES`, `ERR_DOLA_BACKEND`),
 *   or a RangeError naming the row and index of a non-finite logit or hidden value.
 */
export function dolaContrast(finalLogits: Float32Array, candidates: DolaCandidates, options: DolaOptions = {}): DolaResult {
  const c = check(finalLogits, candidates, options);
  const result = emptyResult(c);
  const { native, isa } = route(options.backend);
  if (native?.dolaSelect) {
    const req = request(c, result, isa, options.threads);
    req.finalLogits = finalLogits;
    native.dolaSelect(req);
    return result;
  }
  return dolaContrastJs(finalLogits, c, result);
}

/** {@link dolaContrast} on libuv's thread pool. Do not modify the inputs until the promise settles. */
export async function dolaContrastAsync(finalLogits: Float32Array, candidates: DolaCandidates, options: DolaOptions = {}): Promise<DolaResult> {
  const c = check(finalLogits, candidates, options);
  const result = emptyResult(c);
  const { native, isa } = route(options.backend);
  if (native?.dolaSelectAsync) {
    const req = request(c, result, isa, options.threads);
    req.finalLogits = finalLogits;
    await native.dolaSelectAsync(req);
    return result;
  }
  return dolaContrastJs(finalLogits, c, result);
}

/**
 * The batched candidate projection alone: `out[i, v] = dot(W[v], hidden[i]) (+ b[v])` for n rows of hidden states,
 * reading W once (native only; the same product as {@link headLogits}, blocked for many rows).
 */
export function candidateLogits(hidden: Float32Array, headWeight: Float32Array | Uint16Array | CompactHead, options: { hiddenSize: number; vocabSize: number; weightDtype?: Dtype; headBias?: Float32Array | Uint16Array; head?: DolaHead; backend?: Backend; threads?: number }): Float32Array {
  const d = options.hiddenSize;
  const V = options.vocabSize;
  const dtype = weightDtype(headWeight, options.weightDtype);
  if (!Number.isInteger(d) || d < 1 || hidden.length === 0 || hidden.length % d !== 0) throw dolaError('range', 'ERR_DOLA_ARGUMENT', `hidden holds ${hidden.length} values, not a positive multiple of hiddenSize ${d}`);
  const n = isCompact(headWeight) ? headWeight.q8.length : headWeight.length;
  if (n !== V * d) throw dolaError('range', 'ERR_DOLA_ARGUMENT', `headWeight holds ${n} values, expected vocabSize x hiddenSize = ${V * d}`);
  const { native, isa } = route(options.backend);
  if (!native?.candidateLogits) throw dolaError('range', 'ERR_DOLA_BACKEND', 'candidateLogits needs the native addon');
  const out = new Float32Array((hidden.length / d) * V);
  if (options.head !== undefined && options.head !== 'exact' && options.head !== 'int8') throw dolaError('type', 'ERR_DOLA_ARGUMENT', `Expected options.head 'exact' or 'int8' but received ${String(options.head)}`);
  if (options.head === 'int8' && d % INT8_BLOCK !== 0) throw dolaError('range', 'ERR_DOLA_ARGUMENT', `options.head 'int8' needs hiddenSize to be a multiple of ${INT8_BLOCK}, got ${d}`);
  const i8 = options.head === 'int8' ? int8Head(headWeight, V, d, dtype) : undefined;
  native.candidateLogits({
    hidden, ...(i8 ? { headI8Codes: i8.codes, headI8Scales: i8.scales } : isCompact(headWeight) ? { headQ8: headWeight.q8, headScale: headWeight.scale } : { headWeight }), weightDtype: DTYPE_CODE[dtype], vocab: V, hiddenSize: d, out,
    ...(options.headBias ? { headBias: options.headBias } : {}), ...(isa ? { isa } : {}), ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  return out;
}

// ---------- TypeScript fallback (float64) ----------

function halfToFloat(bits: number, dtype: Dtype): number {
  if (dtype === 'bfloat16') {
    const b = new DataView(new ArrayBuffer(4));
    b.setUint32(0, bits << 16);
    return b.getFloat32(0);
  }
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function logSumExp(z: ArrayLike<number>, off: number, n: number): { lse: number; max: number } {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (z[off + i] > m) m = z[off + i];
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(z[off + i] - m);
  return { lse: m + Math.log(s), max: m };
}

function nonFinite(what: string, z: ArrayLike<number>, off: number, n: number, row: number): void {
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(z[off + i])) throw dolaError('range', 'ERR_DOLA_NON_FINITE', `Expected finite values in ${what} but row ${row}, index ${i} is ${Number.isNaN(z[off + i]) ? 'NaN' : 'infinite'}`);
  }
}

function dolaContrastJs(finalLogits: Float32Array, c: Checked, result: DolaResult): DolaResult {
  const { rows, V, C } = c;
  // candidate logits per row, [C][V]
  const cand: Float64Array[] = [];
  for (let k = 0; k < C; k++) cand.push(new Float64Array(rows * V));
  if (c.projected) {
    const { hidden, weight, dtype, bias, d } = c.projected;
    const w = isCompact(weight)
      ? Float32Array.from(weight.q8, (q, i) => q * weight.scale[i >> 5])
      : dtype === 'float32' ? (weight as Float32Array) : Float32Array.from(weight as Uint16Array, (b) => halfToFloat(b, dtype));
    const b = bias === undefined ? undefined : dtype === 'float32' ? (bias as Float32Array) : Float32Array.from(bias as Uint16Array, (x) => halfToFloat(x, dtype));
    // every row of `h` (`[rows x d]`, named `what` in errors) through the head into `z` (`[rows x V]`)
    const int8 = c.projected.int8;
    const xq = new Int8Array(d);
    const xs = new Float32Array(d / INT8_BLOCK);
    const project = (what: string, h: Float32Array, z: Float64Array | Float32Array, quantised: boolean) => {
      for (let r = 0; r < rows; r++) nonFinite(what, h, r * d, d, r);
      for (let r = 0; r < rows; r++) {
        if (quantised && int8) {
          // dolaHead 'int8': the hidden row quantised per block, the int8 products (float64 sums of the same terms)
          quantiseBlocks(h, r * d, d, xq, xs);
          for (let v = 0; v < V; v++) z[r * V + v] = int8Dot(int8, v, xq, xs) + (b ? b[v] : 0);
          continue;
        }
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += w[v * d + i] * h[r * d + i];
          z[r * V + v] = s + (b ? b[v] : 0);
        }
      }
    };
    for (let k = 0; k < C; k++) project(`hidden[${k}]`, hidden[k], cand[k], true);
    // the final layer through the same head, written out (float32, as the native kernel stores it)
    if (c.projected.finalHidden) project('finalHidden', c.projected.finalHidden, finalLogits, false);
  } else {
    for (let k = 0; k < C; k++) cand[k].set(c.logits![k]);
  }
  const out = result.scores;
  for (let r = 0; r < rows; r++) {
    const off = r * V;
    nonFinite('final logits', finalLogits, off, V, r);
    const f = logSumExp(finalLogits, off, V);
    const lses: number[] = [];
    for (let k = 0; k < C; k++) {
      nonFinite('candidate logits', cand[k], off, V, r);
      lses.push(logSumExp(cand[k], off, V).lse);
    }
    const divs = new Float64Array(C);
    if (C > 1) {
      for (let k = 0; k < C; k++) {
        let acc = 0;
        for (let v = 0; v < V; v++) {
          const lp = finalLogits[off + v] - f.lse;
          const lq = cand[k][off + v] - lses[k];
          const p = Math.exp(lp);
          const q = Math.exp(lq);
          const s = p + q;
          if (!(s > 0)) continue; // M = 0: nothing (0 log 0 = 0)
          const lm = Math.log(s / 2);
          acc += c.divergence === 'dola' ? 0.25 * s * (2 * lm - lp - lq) : 0.5 * (p * (lp - lm) + q * (lq - lm));
        }
        divs[k] = acc;
        result.divergences[r * C + k] = c.divergence === 'dola' ? acc / V : acc;
      }
    }
    let best = 0;
    for (let k = 1; k < C; k++) if (divs[k] > divs[best]) best = k;
    result.chosen[r] = best;
    const zc = cand[best];
    // the head on the final layer's log-probabilities (ties at the threshold included)
    let thr = c.alpha > 0 ? f.max - f.lse + Math.log(c.alpha) : -Infinity;
    if (c.minCandidates > 1) {
      const sorted = Array.from(finalLogits.subarray(off, off + V), (z) => z - f.lse).sort((a, b) => b - a);
      thr = Math.min(thr, sorted[c.minCandidates - 1]);
    }
    const head: number[] = [];
    let mass = 0;
    for (let v = 0; v < V; v++) {
      if (finalLogits[off + v] - f.lse >= thr) {
        head.push(v);
        mass += Math.exp(finalLogits[off + v] - f.lse);
      }
    }
    result.headSize[r] = head.length;
    result.headMass[r] = mass;
    if (c.output === 'dola') {
      for (let v = 0; v < V; v++) out[off + v] = -Infinity;
      for (const v of head) out[off + v] = finalLogits[off + v] - f.lse - (zc[off + v] - lses[best]);
      continue;
    }
    // ACD (Eq. 5) / CD on the head against the chosen layer's logits
    const beta = c.beta;
    const score = head.map((v) => (beta !== undefined ? (1 + beta) * finalLogits[off + v] - beta * zc[off + v] : finalLogits[off + v] - zc[off + v]));
    let smax = -Infinity;
    for (const s of score) smax = Math.max(smax, s);
    let z = 0;
    for (const s of score) z += Math.exp(s - smax);
    const base = (c.output === 'acd' ? Math.log(mass) : 0) - smax - Math.log(z);
    for (let v = 0; v < V; v++) out[off + v] = c.output === 'acd' ? finalLogits[off + v] - f.lse : -Infinity;
    head.forEach((v, j) => {
      out[off + v] = score[j] + base;
    });
  }
  return result;
}
