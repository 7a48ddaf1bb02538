/**
 * The native decode runtime: ONNX Runtime sessions owned by the addon (C API, loaded from onnxruntime-node's
 * own `libonnxruntime.so.1`), with the KV cache in native buffers that never cross into JavaScript. Each step
 * runs on a worker thread and resolves a Promise, so the event loop stays free.
 *
 * Output buffers are zero-copy: {@link StepOutput.logits} and friends are `Float32Array` views over native
 * memory that the next step of the same sequence overwrites. Copy what you need to keep (`.slice()`) before
 * calling `step` again.
 */
import { DEFAULT_ALPHA } from '../config/generation';
import { envValue } from '../config/env';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { AutocontrastError } from '../errors';
import { loadNative, nativeInfo } from '../kernel/native';
import { checkManifest } from '../model/manifest/check-manifest';
import { blockName, MANIFEST_FILE, type ModelManifest } from '../model/manifest/manifest-types';

/** Describes a decoder graph by hand (for graphs without an `autocontrast.json` manifest). */
export interface GraphDescription {
  /** Path of the `.onnx` file. */
  graphPath: string;
  /** Number of transformer blocks (= past/present pairs). */
  numLayers: number;
  /** Key/value heads. */
  numKvHeads: number;
  /** Head width. */
  headDim: number;
  /** Vocabulary size (logits width). */
  vocabSize: number;
  /** Hidden width d (exit hidden outputs). */
  hiddenSize: number;
  /** Context length (positions). */
  contextLength: number;
  /** Which positions `logits` covers: `all` (Hugging Face exports), `last`, or `input` (`num_logits_to_keep`). */
  logitPositions?: 'all' | 'last' | 'input';
  /** Input/output names; defaults follow Hugging Face exports (`{i}` is the block index). */
  names?: Partial<{
    inputIds: string;
    attentionMask: string;
    positionIds: string;
    numLogitsToKeep: string;
    logits: string;
    pastKey: string;
    pastValue: string;
    presentKey: string;
    presentValue: string;
  }>;
  /** Exit outputs by layer. */
  exits?: { layer: number; hiddenOutput?: string; logitsOutput?: string }[];
}

/** Session options. */
export interface LoadOptions {
  /** Intra-op threads (default: physical cores). */
  intraOpThreads?: number;
  /** Inter-op threads (default 1). */
  interOpThreads?: number;
  /** Let ORT's pool threads spin between ops (default true: faster steps, more CPU). */
  allowSpinning?: boolean;
  /** Graph optimisation level 0 (none), 1 (basic), 2 (extended), 99 (all, the default). */
  optimizationLevel?: 0 | 1 | 2 | 99;
  /** Path of libonnxruntime (default: the one inside onnxruntime-node, or $AUTOCONTRAST_ORT_LIBRARY). */
  libraryPath?: string;
  /**
   * `cpu` (default) or `cuda`: ONNX Runtime's CUDA execution provider, with the KV cache, logits and exit outputs
   * in device memory and the contrast run on the GPU by the autocontrast CUDA library, on the same stream; only
   * token ids, their log-probabilities and head sizes come back per step (see {@link Sequence.readOutputs}).
   * Needs onnxruntime-node's CUDA provider (not installed by default: {@link cudaRuntimeStatus} says why it
   * cannot be used and how to install it).
   */
  device?: 'cpu' | 'cuda';
  /** CUDA device index (default 0). */
  deviceId?: number;
}

/** Contrast settings for the native fast path (see the kernel's `contrast`). */
export interface StepContrastOptions {
  /** `acd` (default) or `cd`. */
  mode?: 'acd' | 'cd';
  /** Plausibility threshold in [0, 1] (default 0.1). */
  alpha?: number;
  /** Minimum head size (default 1). */
  minCandidates?: number;
  /** CD only: (1 + beta) z_e - beta z_a. */
  beta?: number;
  /**
   * Device `cuda` only: sample the token from the contrasted distribution on the GPU (temperature, then top-k,
   * then top-p; Philox draws keyed by `seed` and the step count) instead of taking the argmax.
   */
  sample?: { temperature?: number; topK?: number; topP?: number; seed?: number };
}

/**
 * What a step returns. The arrays are views valid until the next step of this sequence. On device `cuda` the
 * outputs stay in device memory: the views are filled only by {@link Sequence.readOutputs}.
 */
export interface StepOutput {
  /** Expert logits of the last position, `[batch x vocabSize]` (view over native memory). */
  logits: Float32Array;
  /** The exit's logits, `[batch x vocabSize]`, when the sequence was created with `exit.logits`. */
  exitLogits?: Float32Array;
  /** The exit's hidden state, `[batch x hiddenSize]`, when created with `exit.hidden`. */
  exitHidden?: Float32Array;
  /**
   * Every bound exit's outputs by layer (`exit` and `exits` alike; views like the others). `exitLogits` and
   * `exitHidden` are the first bound exit's.
   */
  exitOutputs: ReadonlyMap<number, ExitOutput>;
  /** Tokens in the cache after this step (padding included). */
  pastLength: number;
  /** Native step time in ms (binding, Run, post-processing). */
  stepMs: number;
  /** Time inside ONNX Runtime's Run in ms. */
  runMs: number;
}

/** One exit's last-position outputs (views over native memory, valid until the next step). */
export interface ExitOutput {
  /** `exit.{L}.logits`, `[batch x vocabSize]`, when requested. */
  logits?: Float32Array;
  /** `exit.{L}.hidden`, `[batch x hiddenSize]`, when requested. */
  hidden?: Float32Array;
}

/** An exit a sequence reads every step: logits (default true) and/or the hidden state (default false). */
export interface ExitRequest {
  layer: number;
  logits?: boolean;
  hidden?: boolean;
}

/** A step with the native contrast applied. */
export interface ContrastStepOutput extends StepOutput {
  /** Contrasted log-probabilities `[batch x vocabSize]` as the kernel defines them (ACD: expert log-probs outside the head; CD: -Infinity there). A view, valid until the next step. */
  scores: Float32Array;
  /** Per row: the argmax of the contrasted distribution. */
  tokens: Int32Array;
  /** Per row: its log-probability. */
  logprobs: Float32Array;
  /** Per row: the head (plausible set) size. */
  headSize: Int32Array;
}

/** Options of {@link RuntimeModel.createSequence}. */
export interface SequenceOptions {
  /** Rows decoded together (prompts, or beams). */
  batch: number;
  /** Hard context limit for this sequence (prompt + generated, padding included), <= the model's context length. */
  maxLength: number;
  /** Exit outputs to fetch every step (the one-exit form; it becomes the first bound exit). */
  exit?: ExitRequest;
  /**
   * Several exits to fetch every step (after `exit`, if given; distinct layers). The first bound exit is the
   * one `exitLogits` / `exitHidden` and the native contrast use; all appear in `exitOutputs`.
   */
  exits?: ExitRequest[];
}

interface RawStep {
  pastLength: number;
  stepMs: number;
  runMs: number;
  tokens?: Int32Array;
  logprobs?: Float32Array;
  headSize?: Int32Array;
}
interface RawParams {
  mode: number;
  alpha: number;
  minCandidates: number;
  beta?: number;
  sample?: { temperature?: number; topK?: number; topP?: number; seed?: number };
}
interface RuntimeAddon {
  rtAvailable?: boolean;
  rtUnavailableReason?: string;
  rtInit(lib: string): { version: string; apiVersion: number; physicalCores: number };
  rtLoadModel(desc: object): Promise<{ handle: unknown; inputs: string[]; outputs: string[]; threads: number }>;
  rtDisposeModel(h: unknown): void;
  rtCreateSequence(
    h: unknown,
    o: object,
  ): {
    handle: unknown;
    logits: Float32Array;
    exitLogits?: Float32Array;
    exitHidden?: Float32Array;
    scores?: Float32Array;
    exitOutputs?: { layer: number; logits?: Float32Array; hidden?: Float32Array }[];
    kvBytes: number;
    device?: 'cpu' | 'cuda';
  };
  rtDisposeSequence(h: unknown): void;
  rtPrefill(h: unknown, tokens: Int32Array, lengths: Int32Array, p?: RawParams): Promise<RawStep>;
  rtStep(h: unknown, tokens: Int32Array): Promise<RawStep>;
  rtStepAndContrast(h: unknown, tokens: Int32Array, p: RawParams): Promise<RawStep>;
  rtReorder(h: unknown, parents: Int32Array): void;
  rtAdmit?(dst: unknown, src: unknown, srcRow: number): Promise<{ row: number; pastLength: number }>;
  rtRemoveRow?(h: unknown, row: number): number;
  rtReadOutputs?(h: unknown): void;
  rtCudaStatus?(cudaDir: string, deviceId: number): string;
}

/** Where onnxruntime-node's shared library is (or $AUTOCONTRAST_ORT_LIBRARY). */
export function ortLibraryPath(): string {
  const own = envValue('AUTOCONTRAST_ORT_LIBRARY');
  if (own) return own;
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  const file = process.platform === 'darwin' ? 'libonnxruntime.1.dylib' : process.platform === 'win32' ? 'onnxruntime.dll' : 'libonnxruntime.so.1';
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch, file);
}

/** Whether the native runtime can be used here, and if not, why. */
export function runtimeStatus(): { available: boolean; reason?: string } {
  const addon = loadNative() as unknown as RuntimeAddon | null;
  if (!addon) {
    return {
      available: false,
      reason: `the native addon did not load (tried: ${nativeInfo().errors.join('; ')}); build it with \`npm run build:native\` (cmake and a C++17 compiler) or install a package with prebuilt binaries`,
    };
  }
  if (addon.rtAvailable !== true) {
    return { available: false, reason: addon.rtUnavailableReason ?? 'this addon build has no decode runtime (rebuild it)' };
  }
  const lib = ortLibraryPath();
  if (!existsSync(lib)) {
    return { available: false, reason: `ONNX Runtime library not found at ${lib} (install onnxruntime-node, or set AUTOCONTRAST_ORT_LIBRARY to a libonnxruntime)` };
  }
  return { available: true };
}

let ortInfo: { version: string; apiVersion: number; physicalCores: number } | undefined;

function addonOrThrow(libraryPath?: string): RuntimeAddon {
  const st = runtimeStatus();
  if (!st.available) throw new AutocontrastError('AC_RUNTIME_UNAVAILABLE', `the native runtime is unavailable: ${st.reason}`);
  const addon = loadNative() as unknown as RuntimeAddon;
  if (!ortInfo) ortInfo = addon.rtInit(libraryPath ?? ortLibraryPath());
  return addon;
}

/** The folder searched for libautocontrast_cuda.so (the addon's own folder, unless $AUTOCONTRAST_CUDA_LIB is set). */
function cudaDir(): string {
  const p = nativeInfo().path;
  return p ? dirname(p) : '';
}

/**
 * Whether `loadModel(..., { device: 'cuda' })` can work here, and if not, every reason why: ONNX Runtime's CUDA
 * provider not installed next to onnxruntime-node's libonnxruntime (with the command that installs it), the
 * autocontrast CUDA library not built, no CUDA driver, no device, or no device `deviceId`. Loads ONNX Runtime.
 */
export function cudaRuntimeStatus(options: { deviceId?: number; libraryPath?: string } = {}): { available: boolean; reason?: string } {
  const st = runtimeStatus();
  if (!st.available) return { available: false, reason: `the native runtime is unavailable: ${st.reason}` };
  const addon = addonOrThrow(options.libraryPath);
  if (typeof addon.rtCudaStatus !== 'function') return { available: false, reason: 'this addon build has no CUDA decode loop (rebuild it)' };
  const why = addon.rtCudaStatus(cudaDir(), options.deviceId ?? 0);
  return why ? { available: false, reason: why } : { available: true };
}

/** ONNX Runtime's version and the C API version the addon uses (loads the library on first call). */
export function ortVersion(): { version: string; apiVersion: number; physicalCores: number } {
  addonOrThrow();
  return ortInfo!;
}

/** The graph description of a model folder whose manifest was already read and checked (by `load`). */
export function describeFromManifest(dir: string, m: ModelManifest): GraphDescription {
  const io = m.graph.io;
  return {
    graphPath: join(dir, m.graph.file),
    numLayers: m.numLayers,
    numKvHeads: m.numKvHeads,
    headDim: m.headDim,
    vocabSize: m.vocabSize,
    hiddenSize: m.hiddenSize,
    contextLength: m.contextLength,
    logitPositions: m.graph.logitPositions,
    names: { ...io },
    exits: m.exits.map((e) => ({ layer: e.layer, hiddenOutput: e.hiddenOutput, logitsOutput: e.logitsOutput })),
  };
}

/** Reads and checks a model folder's manifest (the runtime's needs only; `validateModelFolder` checks more). */
export function readManifest(dir: string): ModelManifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new Error(`${dir} is not a model folder: ${MANIFEST_FILE} is missing`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const problems = checkManifest(value);
  if (problems.length) throw new Error(`${file}: ${problems.join('; ')}`);
  return value as ModelManifest;
}

function toRaw(d: GraphDescription, o: LoadOptions): object {
  const n = d.names ?? {};
  const list = (tpl: string) => Array.from({ length: d.numLayers }, (_, i) => blockName(tpl, i));
  const positions = d.logitPositions ?? 'all';
  return {
    graphPath: resolve(d.graphPath),
    numLayers: d.numLayers,
    numKvHeads: d.numKvHeads,
    headDim: d.headDim,
    vocabSize: d.vocabSize,
    hiddenSize: d.hiddenSize,
    contextLength: d.contextLength,
    logitPositions: positions,
    inputIds: n.inputIds ?? 'input_ids',
    attentionMask: n.attentionMask ?? 'attention_mask',
    positionIds: n.positionIds ?? 'position_ids',
    numLogitsToKeep: positions === 'input' ? (n.numLogitsToKeep ?? 'num_logits_to_keep') : undefined,
    logits: n.logits ?? 'logits',
    pastKey: list(n.pastKey ?? 'past_key_values.{i}.key'),
    pastValue: list(n.pastValue ?? 'past_key_values.{i}.value'),
    presentKey: list(n.presentKey ?? 'present.{i}.key'),
    presentValue: list(n.presentValue ?? 'present.{i}.value'),
    exits: d.exits ?? [],
    intraOpThreads: o.intraOpThreads,
    interOpThreads: o.interOpThreads,
    allowSpinning: o.allowSpinning,
    optimizationLevel: o.optimizationLevel,
    device: o.device ?? 'cpu',
    deviceId: o.deviceId ?? 0,
    cudaDir: o.device === 'cuda' ? cudaDir() : undefined,
  };
}

/**
 * Loads a model: a model folder (with `autocontrast.json`) or a {@link GraphDescription}. The session is created
 * on a worker thread. Throws when the runtime is unavailable (see {@link runtimeStatus}) or the graph does not
 * match the description (missing or unexpected inputs/outputs, wrong static shapes), with ONNX Runtime's message.
 */
export async function loadModel(source: string | GraphDescription, options: LoadOptions = {}): Promise<RuntimeModel> {
  if (options.device !== undefined && options.device !== 'cpu' && options.device !== 'cuda') {
    throw new RangeError(`device must be 'cpu' or 'cuda', got ${String(options.device)}`);
  }
  if (options.deviceId !== undefined && (!Number.isInteger(options.deviceId) || options.deviceId < 0)) {
    throw new RangeError(`deviceId must be a non-negative integer, got ${options.deviceId}`);
  }
  const addon = addonOrThrow(options.libraryPath);
  const desc = typeof source === 'string' ? describeFromManifest(resolve(source), readManifest(resolve(source))) : source;
  const raw = await addon.rtLoadModel(toRaw(desc, options));
  return new RuntimeModel(addon, raw.handle, desc, raw.inputs, raw.outputs, raw.threads, options.device ?? 'cpu');
}

/** A loaded model (one ONNX Runtime session), shared by any number of sequences, also concurrently. */
export class RuntimeModel {
  #addon: RuntimeAddon;
  #handle: unknown;
  #disposed = false;
  /** The graph description used. */
  readonly description: GraphDescription;
  /** Graph input names. */
  readonly inputNames: readonly string[];
  /** Graph output names. */
  readonly outputNames: readonly string[];
  /** Intra-op threads of the session. */
  readonly threads: number;
  /** Where the session runs and the sequences keep their buffers. */
  readonly device: 'cpu' | 'cuda';

  /** @internal Use {@link loadModel}. */
  constructor(
    addon: RuntimeAddon,
    handle: unknown,
    d: GraphDescription,
    inputs: string[],
    outputs: string[],
    threads: number,
    device: 'cpu' | 'cuda' = 'cpu',
  ) {
    this.device = device;
    this.#addon = addon;
    this.#handle = handle;
    this.description = d;
    this.inputNames = inputs;
    this.outputNames = outputs;
    this.threads = threads;
  }

  /** Whether {@link dispose} was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Creates a decoding state with its own KV cache of `batch x maxLength` positions (allocated now, both
   * ping-pong halves: see {@link Sequence.kvBytes}).
   */
  createSequence(options: SequenceOptions): Sequence {
    if (this.#disposed) throw new Error('RuntimeModel was disposed');
    const { batch, maxLength, exit, exits } = options;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    if (maxLength > this.description.contextLength) {
      throw new RangeError(`maxLength ${maxLength} exceeds the model's context length ${this.description.contextLength}`);
    }
    if (exits !== undefined && !Array.isArray(exits)) throw new TypeError('exits must be an array of { layer, logits?, hidden? }');
    const all = [...(exit ? [exit] : []), ...(exits ?? [])];
    const seen = new Set<number>();
    for (const e of all) {
      if (!e || typeof e !== 'object' || !Number.isInteger(e.layer)) throw new TypeError(`an exit must be { layer: integer, logits?, hidden? }, got ${JSON.stringify(e)}`);
      if (seen.has(e.layer)) throw new RangeError(`exit ${e.layer} is requested twice`);
      seen.add(e.layer);
    }
    const raw = this.#addon.rtCreateSequence(this.#handle, {
      batch,
      maxLength,
      ...(exit ? { exitLayer: exit.layer, exitLogits: exit.logits ?? true, exitHidden: exit.hidden ?? false } : {}),
      ...(exits?.length ? { exits: exits.map((e) => ({ layer: e.layer, logits: e.logits ?? true, hidden: e.hidden ?? false })) } : {}),
    });
    return new Sequence(this.#addon, raw, batch, maxLength, this.description.vocabSize);
  }

  /** Releases the session once no sequence uses it any more. Later calls on this model throw. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#addon.rtDisposeModel(this.#handle);
  }
}

function toInt32(values: ArrayLike<number>, what: string): Int32Array {
  if (values instanceof Int32Array) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) throw new TypeError(`${what}[${i}] must be an integer token id, got ${v}`);
    out[i] = v;
  }
  return out;
}

function rawParams(o: StepContrastOptions): RawParams {
  const mode = o.mode ?? 'acd';
  if (mode !== 'acd' && mode !== 'cd') throw new RangeError(`contrast mode must be 'acd' or 'cd', got ${String(mode)}`);
  return {
    mode: mode === 'acd' ? 0 : 1,
    alpha: o.alpha ?? DEFAULT_ALPHA,
    minCandidates: o.minCandidates ?? 1,
    ...(o.beta !== undefined ? { beta: o.beta } : {}),
    ...(o.sample !== undefined ? { sample: o.sample } : {}),
  };
}

/**
 * One request's decoding state: the KV cache (native memory), padding per row and the output buffers. Calls
 * must not overlap: await each prefill/step before the next. Sequences on the same model may run concurrently.
 */
export class Sequence {
  #addon: RuntimeAddon;
  #handle: unknown;
  #disposed = false;
  #busy = false;
  #views: { logits: Float32Array; exitLogits?: Float32Array; exitHidden?: Float32Array; scores?: Float32Array };
  #exits: ReadonlyMap<number, ExitOutput>;
  /** Rows. */
  readonly batch: number;
  /** Context limit. */
  readonly maxLength: number;
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** Bytes of KV cache held natively (device memory on `cuda`). */
  readonly kvBytes: number;
  /** `cuda`: the output views are host copies that only {@link readOutputs} fills. */
  readonly device: 'cpu' | 'cuda';
  /** Tokens in the cache (padding included). */
  pastLength = 0;
  #rows = 0;

  /** @internal Use {@link RuntimeModel.createSequence}. */
  constructor(
    addon: RuntimeAddon,
    raw: ReturnType<RuntimeAddon['rtCreateSequence']>,
    batch: number,
    maxLength: number,
    vocabSize: number,
  ) {
    this.#addon = addon;
    this.#handle = raw.handle;
    this.#views = { logits: raw.logits, exitLogits: raw.exitLogits, exitHidden: raw.exitHidden, scores: raw.scores };
    this.#exits = new Map((raw.exitOutputs ?? []).map((e) => [e.layer, { logits: e.logits, hidden: e.hidden }]));
    const first = raw.exitOutputs?.[0];
    if (first) {
      // The same memory as raw.exitLogits / raw.exitHidden: hand out one view object for both names.
      this.#views.exitLogits = first.logits;
      this.#views.exitHidden = first.hidden;
    }
    this.batch = batch;
    this.maxLength = maxLength;
    this.vocabSize = vocabSize;
    this.kvBytes = raw.kvBytes;
    this.device = raw.device ?? 'cpu';
  }

  #check(): void {
    if (this.#disposed) throw new Error('Sequence was disposed');
    if (this.#busy) throw new Error('a step is already running on this sequence (await it before the next call)');
  }

  async #run(p: Promise<RawStep>): Promise<ContrastStepOutput> {
    this.#busy = true;
    try {
      const r = await p;
      this.pastLength = r.pastLength;
      return {
        logits: this.#views.logits,
        exitLogits: this.#views.exitLogits,
        exitHidden: this.#views.exitHidden,
        exitOutputs: this.#exits,
        scores: this.#views.scores as Float32Array,
        pastLength: r.pastLength,
        stepMs: r.stepMs,
        runMs: r.runMs,
        tokens: r.tokens as Int32Array,
        logprobs: r.logprobs as Float32Array,
        headSize: r.headSize as Int32Array,
      };
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Runs the prompts (one per row, any lengths >= 1; shorter ones are left-padded and masked). With `contrast`,
   * also applies the native contrast kernel (needs an exit with logits) and returns tokens/log-probs per row.
   * Throws RangeError for a wrong prompt count, an empty prompt, a token id outside the vocabulary, or a prompt
   * longer than maxLength.
   */
  prefill(prompts: ArrayLike<number>[]): Promise<StepOutput>;
  prefill(prompts: ArrayLike<number>[], options: { contrast: StepContrastOptions }): Promise<ContrastStepOutput>;
  prefill(prompts: ArrayLike<number>[], options?: { contrast?: StepContrastOptions }): Promise<StepOutput | ContrastStepOutput> {
    this.#check();
    if (!Array.isArray(prompts)) throw new TypeError('prefill expects an array of prompts (arrays of token ids)');
    if (prompts.length !== this.batch) {
      throw new RangeError(`prefill expects ${this.batch} prompts (the batch size), got ${prompts.length}`);
    }
    const lengths = Int32Array.from(prompts, (p) => p.length);
    const flat = new Int32Array(lengths.reduce((a, b) => a + b, 0));
    let off = 0;
    prompts.forEach((p, b) => {
      flat.set(toInt32(p, `prompts[${b}]`), off);
      off += p.length;
    });
    const params = options?.contrast ? rawParams(options.contrast) : undefined;
    const run = this.#run(this.#addon.rtPrefill(this.#handle, flat, lengths, params));
    this.#rows = this.batch;
    return run;
  }

  /**
   * Feeds one token per row and returns the next position's outputs. Throws RangeError when the token count
   * is not the batch size, or the sequence already holds maxLength tokens (context overflow).
   */
  step(nextTokens: ArrayLike<number>): Promise<StepOutput> {
    this.#check();
    return this.#run(this.#addon.rtStep(this.#handle, toInt32(nextTokens, 'nextTokens')));
  }

  /**
   * {@link step}, then the contrast kernel on the expert and exit logits in native memory (no copies); returns
   * per row the argmax token of the contrasted distribution, its log-probability and the head size, plus the
   * full contrasted log-probabilities as a view.
   */
  stepAndContrast(nextTokens: ArrayLike<number>, contrast: StepContrastOptions = {}): Promise<ContrastStepOutput> {
    this.#check();
    return this.#run(this.#addon.rtStepAndContrast(this.#handle, toInt32(nextTokens, 'nextTokens'), rawParams(contrast)));
  }

  /**
   * Beam reordering: row b continues from row `parents[b]`. Applied to the KV cache (gathered into the spare
   * half, no allocation) at the start of the next step, on the worker thread.
   */
  reorder(parents: ArrayLike<number>): void {
    this.#check();
    this.#addon.rtReorder(this.#handle, toInt32(parents, 'parents'));
  }

  /**
   * The last step's outputs as views (valid until the next step). On device `cuda` this first copies the logits,
   * exit outputs and contrasted scores from device memory (synchronous; that copy is exactly what the device
   * path otherwise avoids, so call it for inspection, not per token). On the CPU the views are already current.
   */
  readOutputs(): {
    logits: Float32Array;
    exitLogits?: Float32Array;
    exitHidden?: Float32Array;
    scores?: Float32Array;
    exitOutputs: ReadonlyMap<number, ExitOutput>;
  } {
    this.#check();
    if (this.device === 'cuda') this.#addon.rtReadOutputs?.(this.#handle);
    return { ...this.#views, exitOutputs: this.#exits };
  }

  /**
   * Continuous batching: row `srcRow` of `source` (a prefilled sequence of the same model, CPU) joins this
   * sequence as its last row in use, with its KV cache copied in (right-aligned, left padding masked, on the
   * thread pool). A sequence created with `batch` B has B row slots; {@link rows} of them are in use (the first
   * ones, and only those are stepped, so `step` takes {@link rows} tokens). A sequence that was never
   * prefilled starts with none in use. Resolves with the new row's index. Both sequences are busy until then;
   * `source` may be disposed afterwards.
   */
  async admit(source: Sequence, srcRow = 0): Promise<number> {
    this.#check();
    if (!(source instanceof Sequence)) throw new TypeError('admit expects a Sequence of the same model');
    if (source === this) throw new RangeError('a sequence cannot admit a row of itself');
    if (typeof this.#addon.rtAdmit !== 'function') throw new Error('this addon build cannot admit rows (rebuild it)');
    const r = await source.#lend((h) => this.#lend(() => this.#addon.rtAdmit!(this.#handle, h, srcRow)));
    this.pastLength = r.pastLength;
    this.#rows = r.row + 1;
    return r.row;
  }

  /**
   * Continuous batching: row `row` leaves; the last row in use takes its slot (its KV cache moves before the
   * next step, on the thread pool). Returns the index the last row had, which now lives at `row` (equal to
   * `row` when it was the last).
   */
  removeRow(row: number): number {
    this.#check();
    if (typeof this.#addon.rtRemoveRow !== 'function') throw new Error('this addon build cannot remove rows (rebuild it)');
    const last = this.#addon.rtRemoveRow(this.#handle, row);
    this.#rows = last;
    if (this.#rows === 0) this.pastLength = 0;
    return last;
  }

  /** Rows in use: the batch after a prefill; those admitted (minus those removed) otherwise. */
  get rows(): number {
    return this.#rows;
  }

  async #lend<T>(fn: (handle: unknown) => Promise<T>): Promise<T> {
    this.#check();
    this.#busy = true;
    try {
      return await fn(this.#handle);
    } finally {
      this.#busy = false;
    }
  }

  /** Frees the KV cache (after a running step, if any). Views handed out stay readable but stale. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#addon.rtDisposeSequence(this.#handle);
  }
}

export { ScoringError, ScoringSession, type ScoringFetch, type ScoringOutputs } from './scoring-session';
