/**
 * The contrast functions: expert and amateur logits in, log-probabilities out. Each runs the native kernel
 * when it is loaded and the TypeScript fallback otherwise (or when `backend: 'js'` is asked for).
 */
import { DEFAULT_ALPHA } from '../config/generation';
import { contrastDenseJs, contrastSparseJs } from './fallback';
import { dirname } from 'node:path';

import { loadNative, nativeInfo, type NativeAddon } from './native';
import type { Backend, ContrastMode, ContrastOptions, ContrastResult, CudaInfo, DeviceContrastOptions, DevicePointers, Logits, SparseContrastOptions } from './types';
import { DTYPE_CODE, denseRequest, sparseRequest, typeError, type DenseRequest, type SparseRequest } from './validate';

const BACKENDS: readonly Backend[] = ['native-avx512', 'native-avx2', 'native-neon', 'native-scalar', 'js'];

/** The implementation that runs by default: `native-<isa>` for the fastest instruction set, or `js`. */
export function backend(): Backend {
  const n = loadNative();
  return n ? (`native-${n.isa()}` as Backend) : 'js';
}

/** Every implementation usable on this machine, fastest first. */
export function availableBackends(): Backend[] {
  const n = loadNative();
  const list: Backend[] = n ? n.isas().map((isa) => `native-${isa}` as Backend) : [];
  list.push('js');
  return list;
}

// The addon's instruction sets never change while it is loaded: asked once, not on every call.
let isaCache: { addon: NativeAddon; isas: string[] } | undefined;
function nativeIsas(n: NativeAddon): string[] {
  if (isaCache?.addon !== n) isaCache = { addon: n, isas: n.isas() };
  return isaCache.isas;
}

/** Picks the implementation for a call; returns the native isa name, or null for the fallback. */
export function route(options: unknown): { native: ReturnType<typeof loadNative>; isa?: string; cudaDir?: string } {
  const o = options as ContrastOptions | undefined;
  if (o?.device === 'cuda') {
    if (o.backend !== undefined) throw new TypeError("options.backend selects a CPU implementation; it cannot be combined with device 'cuda'");
    const n = loadNative();
    if (!n) throw new Error("device 'cuda' needs the native addon, which is not loaded (see nativeInfo())");
    return { native: n, cudaDir: dirname(nativeInfo().path ?? '') };
  }
  const requested = o?.backend;
  if (requested === undefined) return { native: loadNative() };
  if (!BACKENDS.includes(requested)) throw typeError('options.backend', `one of ${BACKENDS.join(', ')}`, requested);
  if (requested === 'js') return { native: null };
  const n = loadNative();
  const isa = requested.slice('native-'.length);
  if (!n || !nativeIsas(n).includes(isa))
    throw new RangeError(`Backend '${requested}' is not available here; available: ${availableBackends().join(', ')}`);
  return { native: n, isa };
}

/**
 * The native prepared contrasts (as `createContrast` makes) behind the plain dense functions' CPU calls, one per
 * recently used set of parameters: a call whose options were validated in JavaScript (denseRequest) runs through
 * `contrastRun`, which checks only the arrays, instead of the addon parsing and checking the whole request again
 * (about 4 of a plain call's 5 µs fixed cost). Same kernel, same parameters, same results and errors.
 */
interface DenseHandle {
  isa: string | undefined;
  dtype: number;
  rows: number;
  vocab: number;
  mode: number;
  alpha: number;
  minCandidates: number;
  beta: number | undefined;
  threads: number | undefined;
  prepared: object;
  headSize: Int32Array;
  headMass: Float32Array;
}
const MAX_HANDLES = 8;
const denseHandles: DenseHandle[] = [];
let handlesAddon: NativeAddon | undefined;

function denseHandle(native: NativeAddon, req: DenseRequest): DenseHandle | null {
  if (typeof native.contrastPrepare !== 'function') return null;
  if (handlesAddon !== native) {
    denseHandles.length = 0;
    handlesAddon = native;
  }
  for (const h of denseHandles)
    if (h.isa === req.isa && h.dtype === req.dtype && h.rows === req.rows && h.vocab === req.vocab && h.mode === req.mode &&
        h.alpha === req.alpha && h.minCandidates === req.minCandidates && h.beta === req.beta && h.threads === req.threads)
      return h;
  const h: DenseHandle = {
    isa: req.isa, dtype: req.dtype, rows: req.rows, vocab: req.vocab, mode: req.mode, alpha: req.alpha,
    minCandidates: req.minCandidates, beta: req.beta, threads: req.threads,
    prepared: native.contrastPrepare(req), headSize: new Int32Array(req.rows), headMass: new Float32Array(req.rows),
  };
  if (denseHandles.length >= MAX_HANDLES) denseHandles.shift();
  denseHandles.push(h);
  return h;
}

function dense(expert: Logits, amateur: Logits, options: ContrastOptions | undefined, mode: ContrastMode): DenseRequest {
  const { native, isa, cudaDir } = route(options);
  const req = denseRequest(expert, amateur, options, mode);
  if (isa) req.isa = isa;
  if (cudaDir !== undefined) req.cudaDir = cudaDir;
  if (!native) {
    contrastDenseJs(req);
    return req;
  }
  const h = req.device === 'cuda' ? null : denseHandle(native, req);
  if (h) native.contrastRun(h.prepared, req.expert, req.amateur, req.out, req.headSize ?? h.headSize, req.headMass ?? h.headMass);
  else native.contrast(req);
  return req;
}

function sparse(
  expert: Logits,
  hidden: Float32Array,
  headWeight: Logits,
  options: SparseContrastOptions | undefined,
  mode: ContrastMode,
): SparseRequest {
  const { native, isa, cudaDir } = route(options);
  const req = sparseRequest(expert, hidden, headWeight, options, mode);
  if (isa) req.isa = isa;
  if (cudaDir !== undefined) req.cudaDir = cudaDir;
  if (native) native.contrastSparse(req);
  else contrastSparseJs(req);
  return req;
}

/**
 * Auto-contrastive decoding (Gera et al. 2023, Eq. 5): log-probabilities `log p_acd` for one or many rows.
 * Tokens in the plausibility head get the head's expert mass redistributed by `softmax(log p_e - log p_a)`;
 * the others keep `log p_e`.
 *
 * @param expert final-layer logits `[rows x V]` (Float32Array, or Uint16Array with `dtype`)
 * @param amateur intermediate-exit logits, same shape and dtype
 * @returns `options.out` or a new Float32Array `[rows x V]`
 * @example
 * const logp = acdLogProbs(expertLogits, amateurLogits, { alpha: 0.1 });
 */
export function acdLogProbs(expert: Logits, amateur: Logits, options?: ContrastOptions): Float32Array {
  return dense(expert, amateur, options, 'acd').out;
}

/**
 * Contrastive decoding (Li et al. 2022): the head scored by `z_e - z_a` (or O'Brien & Lewis's
 * `(1 + beta) z_e - beta z_a`), normalised over the head into log-probabilities; -Infinity outside the head.
 */
export function cdScores(expert: Logits, amateur: Logits, options?: ContrastOptions): Float32Array {
  return dense(expert, amateur, options, 'cd').out;
}

/**
 * ACD with the amateur given as a linear exit: `z_a = headWeight · hidden (+ headBias)`, computed only for the
 * head tokens (|H| x d multiply-adds instead of V x d).
 *
 * @param hidden the exit's hidden state `[rows x d]` (Float32Array)
 * @param headWeight the exit head `[V x d]` (Float32Array, or Uint16Array with `weightDtype`)
 */
export function acdLogProbsSparse(
  expert: Logits,
  hidden: Float32Array,
  headWeight: Logits,
  options?: SparseContrastOptions,
): Float32Array {
  return sparse(expert, hidden, headWeight, options, 'acd').out;
}

/** CD scores with the sparse amateur (see `cdScores` and `acdLogProbsSparse`). */
export function cdScoresSparse(
  expert: Logits,
  hidden: Float32Array,
  headWeight: Logits,
  options?: SparseContrastOptions,
): Float32Array {
  return sparse(expert, hidden, headWeight, options, 'cd').out;
}

/**
 * The full result of a dense contrast: log-probabilities plus each row's head size and head mass.
 * `mode` selects ACD (default) or CD.
 */
export function contrast(
  expert: Logits,
  amateur: Logits,
  options?: ContrastOptions & { mode?: ContrastMode },
): ContrastResult {
  const { mode = 'acd', ...rest } = options ?? {};
  if (mode !== 'acd' && mode !== 'cd') throw typeError('options.mode', "'acd' or 'cd'", mode);
  const rows = countRows(expert, rest);
  const req = dense(expert, amateur, {
    ...rest,
    headSize: rest.headSize ?? new Int32Array(rows),
    headMass: rest.headMass ?? new Float32Array(rows),
  }, mode);
  return { logProbs: req.out, headSize: req.headSize!, headMass: req.headMass!, rows: req.rows, vocabSize: req.vocab };
}

function countRows(expert: Logits, o: ContrastOptions): number {
  const n = ArrayBuffer.isView(expert) ? (expert as Logits).length : 0;
  const v = typeof o.vocabSize === 'number' && o.vocabSize > 0 ? o.vocabSize : n;
  return v > 0 && Number.isInteger(n / v) ? Math.max(1, n / v) : 1;
}

async function denseAsync(expert: Logits, amateur: Logits, options: ContrastOptions | undefined, mode: ContrastMode): Promise<Float32Array> {
  const { native, isa, cudaDir } = route(options);
  const req = denseRequest(expert, amateur, options, mode);
  if (isa) req.isa = isa;
  if (cudaDir !== undefined) req.cudaDir = cudaDir;
  if (!native) return contrastDenseJs(req);
  // Capture the caller's stack before going async, so a rejection points at the call site.
  const site = new Error();
  try {
    return await native.contrastAsync(req);
  } catch (e) {
    throw withCallSite(e, site);
  }
}

function withCallSite(e: unknown, site: Error): unknown {
  if (e instanceof Error && site.stack) e.stack = `${e.name}: ${e.message}\n${site.stack.split('\n').slice(1).join('\n')}`;
  return e;
}

/** `acdLogProbs` on a worker thread: does not block the event loop (for large batches). */
export function acdLogProbsAsync(expert: Logits, amateur: Logits, options?: ContrastOptions): Promise<Float32Array> {
  return denseAsync(expert, amateur, options, 'acd');
}

/** `cdScores` on a worker thread. */
export function cdScoresAsync(expert: Logits, amateur: Logits, options?: ContrastOptions): Promise<Float32Array> {
  return denseAsync(expert, amateur, options, 'cd');
}

async function sparseAsync(
  expert: Logits,
  hidden: Float32Array,
  headWeight: Logits,
  options: SparseContrastOptions | undefined,
  mode: ContrastMode,
): Promise<Float32Array> {
  const { native, isa, cudaDir } = route(options);
  const req = sparseRequest(expert, hidden, headWeight, options, mode);
  if (isa) req.isa = isa;
  if (cudaDir !== undefined) req.cudaDir = cudaDir;
  if (!native) return contrastSparseJs(req);
  const site = new Error();
  try {
    return await native.contrastSparseAsync(req);
  } catch (e) {
    throw withCallSite(e, site);
  }
}

/** `acdLogProbsSparse` on a worker thread. */
export function acdLogProbsSparseAsync(
  expert: Logits,
  hidden: Float32Array,
  headWeight: Logits,
  options?: SparseContrastOptions,
): Promise<Float32Array> {
  return sparseAsync(expert, hidden, headWeight, options, 'acd');
}

/** `cdScoresSparse` on a worker thread. */
export function cdScoresSparseAsync(
  expert: Logits,
  hidden: Float32Array,
  headWeight: Logits,
  options?: SparseContrastOptions,
): Promise<Float32Array> {
  return sparseAsync(expert, hidden, headWeight, options, 'cd');
}

/**
 * Whether `device: 'cuda'` can run here: the CUDA library next to the addon, a driver and a device, or the
 * reason it cannot.
 */
export function cudaInfo(): CudaInfo {
  const n = loadNative();
  if (!n) return { available: false, reason: 'native addon not loaded' };
  return n.cudaInfo(dirname(nativeInfo().path ?? ''));
}

/**
 * Contrast on logits that are already in GPU memory (e.g. produced there by ONNX Runtime's CUDA provider):
 * device pointers and a CUDA stream in, results written to device memory on that stream. For embedders;
 * the pointers must be valid device allocations of the stated sizes.
 * @example
 * contrastDevicePointers({ expert: pE, amateur: pA, argmax: pTok, stream }, { rows: 1, vocabSize: 50257 });
 */
export function contrastDevicePointers(pointers: DevicePointers, options: DeviceContrastOptions): void {
  const n = loadNative();
  if (!n) throw new Error("device 'cuda' needs the native addon, which is not loaded (see nativeInfo())");
  if (pointers === null || typeof pointers !== 'object') throw typeTypeError('pointers', pointers);
  if (options === null || typeof options !== 'object') throw typeTypeError('options', options);
  const mode = options.mode ?? 'acd';
  if (mode !== 'acd' && mode !== 'cd') throw typeError('options.mode', "'acd' or 'cd'", mode);
  const dtype = options.dtype ?? 'float32';
  if (!(dtype in DTYPE_CODE)) throw typeError('options.dtype', "'float32', 'float16' or 'bfloat16'", dtype);
  n.contrastDevice({
    ...pointers,
    dtype: DTYPE_CODE[dtype],
    rows: options.rows,
    vocab: options.vocabSize,
    mode: mode === 'cd' ? 1 : 0,
    alpha: options.alpha ?? DEFAULT_ALPHA,
    minCandidates: options.minCandidates ?? 1,
    beta: options.beta,
    cudaDir: dirname(nativeInfo().path ?? ''),
  });
}

function typeTypeError(name: string, v: unknown): TypeError {
  return typeError(name, 'an object', v);
}
