/** One request's decoding state in native memory: prefill, step, the fused contrast step, reorder, admit. */
import { AutocontrastError, InvalidArgTypeError, OutOfRangeError } from '../errors';
import { DEFAULT_ALPHA } from '../config/generation';
import type { RawParams, RawStep, RuntimeSurface } from '../kernel/addon';
import { DTYPE_CODE } from '../kernel/validate';
import type { ContrastStepOutput, ExitOutput, StepContrastOptions, StepOutput } from './types';

/** The prompts' token ids end to end with each prompt's length, as the addon's prefill and decode loop take them. */
function flattenPrompts(prompts: ArrayLike<number>[]): { flat: Int32Array; lengths: Int32Array } {
  const lengths = Int32Array.from(prompts, (p) => p.length);
  const flat = new Int32Array(lengths.reduce((a, b) => a + b, 0));
  let off = 0;
  prompts.forEach((p, b) => {
    flat.set(toInt32(p, `prompts[${b}]`), off);
    off += p.length;
  });
  return { flat, lengths };
}

function toInt32(values: ArrayLike<number>, what: string): Int32Array {
  if (values instanceof Int32Array) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) throw new InvalidArgTypeError(`${what}[${i}] must be an integer token id, got ${v}`);
    out[i] = v;
  }
  return out;
}

function rawParams(o: StepContrastOptions): RawParams {
  const mode = o.mode ?? 'acd';
  if (mode !== 'acd' && mode !== 'cd' && mode !== 'plain') throw new OutOfRangeError(`contrast mode must be 'acd', 'cd' or 'plain', got ${String(mode)}`);
  if (mode === 'plain') return { mode: 2, ...(o.sample !== undefined ? { sample: o.sample } : {}) };
  return {
    mode: mode === 'acd' ? 0 : 1,
    alpha: o.alpha ?? DEFAULT_ALPHA,
    minCandidates: o.minCandidates ?? 1,
    ...(o.beta !== undefined ? { beta: o.beta } : {}),
    ...(o.sample !== undefined ? { sample: o.sample } : {}),
    ...(o.sparse !== undefined ? { sparse: { weight: o.sparse.weight, weightDtype: DTYPE_CODE[o.sparse.weightDtype], ...(o.sparse.bias ? { bias: o.sparse.bias } : {}) } } : {}),
  };
}

/**
 * One request's decoding state: the KV cache (native memory), padding per row and the output buffers. Calls
 * must not overlap: await each prefill/step before the next. Sequences on the same model may run concurrently.
 */
export class Sequence {
  #addon: RuntimeSurface;
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
    addon: RuntimeSurface,
    raw: ReturnType<RuntimeSurface['rtCreateSequence']>,
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
    if (this.#disposed) throw new AutocontrastError('AC_INVALID_STATE', 'Sequence was disposed');
    if (this.#busy) throw new AutocontrastError('AC_INVALID_STATE', 'a step is already running on this sequence (await it before the next call)');
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
        headMs: r.headMs,
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
    if (!Array.isArray(prompts)) throw new InvalidArgTypeError('prefill expects an array of prompts (arrays of token ids)');
    if (prompts.length !== this.batch) {
      throw new OutOfRangeError(`prefill expects ${this.batch} prompts (the batch size), got ${prompts.length}`);
    }
    const { flat, lengths } = flattenPrompts(prompts);
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
   * The fused decode loop: runs the prompts (as {@link prefill}), then steps, all in one native call on the
   * worker thread; each step's selection ({@link stepAndContrast}'s, or with `mode: 'plain'` the expert's own
   * distribution) is fed back as the next tokens. A row that selects a token of `limits.eos` is fed
   * `limits.filler` from then on. `onStep` receives every selection in order on the JavaScript thread while the
   * worker goes on (its arrays are its own); returning true stops the loop before its next step, as does
   * {@link stopDecode}. Selections made after the stop point still arrive; the caller ignores them. Resolves
   * after the last `onStep` call with the number of selections made; rejects with what `onStep` threw.
   */
  decode(
    prompts: ArrayLike<number>[],
    selection: StepContrastOptions,
    limits: { maxSteps: number; eos: readonly number[]; filler: number },
    onStep: (tokens: Int32Array, logProbs: Float32Array, step: number, stepMs: number, runMs: number) => boolean,
  ): Promise<{ steps: number; pastLength: number }> {
    this.#check();
    if (typeof this.#addon.rtDecode !== 'function') throw new AutocontrastError('AC_RUNTIME_UNAVAILABLE', 'this addon build has no decode loop (rebuild it)');
    if (!Array.isArray(prompts) || prompts.length !== this.batch) {
      throw new OutOfRangeError(`decode expects ${this.batch} prompts (the batch size), got ${Array.isArray(prompts) ? prompts.length : typeof prompts}`);
    }
    if (typeof onStep !== 'function') throw new InvalidArgTypeError('decode expects an onStep function');
    const { flat, lengths } = flattenPrompts(prompts);
    const raw = { maxSteps: limits.maxSteps, eos: toInt32(limits.eos, 'eos'), filler: limits.filler };
    const run = this.#addon.rtDecode(this.#handle, flat, lengths, rawParams(selection), raw, onStep);
    this.#rows = this.batch;
    this.#busy = true;
    return run.then(
      (r) => {
        this.#busy = false;
        this.pastLength = r.pastLength;
        return r;
      },
      (e: unknown) => {
        this.#busy = false;
        throw e;
      },
    );
  }

  /** Asks a running {@link decode} loop to stop before its next step (no-op when none runs). */
  stopDecode(): void {
    if (!this.#disposed) this.#addon.rtDecodeStop?.(this.#handle);
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
    if (!(source instanceof Sequence)) throw new InvalidArgTypeError('admit expects a Sequence of the same model');
    if (source === this) throw new OutOfRangeError('a sequence cannot admit a row of itself');
    if (typeof this.#addon.rtAdmit !== 'function') throw new AutocontrastError('AC_RUNTIME_UNAVAILABLE', 'this addon build cannot admit rows (rebuild it)');
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
    if (typeof this.#addon.rtRemoveRow !== 'function') throw new AutocontrastError('AC_RUNTIME_UNAVAILABLE', 'this addon build cannot remove rows (rebuild it)');
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
