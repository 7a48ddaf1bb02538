/**
 * The user-facing generation API: text in, (contrasted) text out. `generate` for one or many prompts,
 * `stream` as an async iterator of text chunks, `score` for per-token log-probabilities of a text.
 */
import { generateTokens, type FinishReason } from '../decoding/generate';
import type { GenerateOptions as DecodingOptions } from '../decoding/options';
import { argmax, logSoftmaxInPlace } from '../decoding/processors';
import type { AmateurPath, ContrastModel, ContrastPlan, ExpertPlan, RuntimeSession } from './model';
import { scoreBatch, windowItems } from './score-batch';

/** A prompt: text, or token ids (used as given). */
export type Prompt = string | number[];

/** Options of {@link generate} and {@link stream}: src/decoding's options plus contrast, text and prompt handling. */
export interface GenerateTextOptions extends Omit<DecodingOptions, 'contrast'> {
  /**
   * Contrast on (default) or off. `false` decodes plainly from the expert. An object is the same as giving
   * its fields at the top level.
   */
  contrast?: boolean;
  /**
   * Exit layer of the amateur (default: the middle exit, `floor(numLayers / 2)`, as the paper; with an early
   * `expertLayer`, the exit nearest to `floor(expertLayer / 2)` below it). Must be below `expertLayer` when that is given.
   */
  amateurLayer?: number;
  /**
   * Layer of the expert (default: the final layer, the model's own `logits`). An exit layer L below
   * `numLayers` decodes from exit L (early exit; its logits output, else its hidden state times its head),
   * contrasted with an amateur below L, or plainly with `contrast: false`. `numLayers` selects the trained
   * final head when the folder has a `head` exit at that layer, else it is the default. See
   * {@link ContrastModel.expertPlan}.
   */
  expertLayer?: number;
  /** Plausibility threshold in [0, 1] (default 0.1). */
  alpha?: number;
  /** Minimum head size (default 1). */
  minCandidates?: number;
  /** `acd` (default) or `cd`. */
  mode?: 'acd' | 'cd';
  /** CD weighting (O'Brien & Lewis). */
  beta?: number;
  /** `auto` (default: sparse when the exit outputs its hidden state and its head is known, else dense), `sparse` or `dense`. */
  amateurPath?: AmateurPath | 'auto';
  /** Generation of a row stops when its decoded text contains one of these; the text is cut before it. */
  stopStrings?: string[];
  /**
   * Wrap text prompts in a chat template: `chatml` (`<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n`,
   * SmolLM2-Instruct's format) or none (default: plain completion).
   */
  chatTemplate?: 'chatml' | 'none';
  /** Let the tokenizer add its special tokens (e.g. BOS) to text prompts (default true). */
  addSpecialTokens?: boolean;
}

/** One generated continuation. */
export interface GeneratedText {
  /** The continuation's text (special tokens skipped, cut at a stop string). */
  text: string;
  /** Prompt token ids. */
  promptTokens: number[];
  /** Generated token ids. */
  tokens: number[];
  /** Per generated token, its log-probability under the (contrasted) distribution, before sampling warpers. */
  logProbs: number[];
  finishReason: FinishReason;
  /** Beam search: the length-penalised score. */
  score?: number;
}

/** Timing of a call. */
export interface GenerationTiming {
  /** Prompt processing (prefill), ms. */
  prefillMs: number;
  /** Decoding after the prefill, ms. */
  decodeMs: number;
  /** Generated tokens over all rows. */
  tokens: number;
  /** Generated tokens per second of decode time (excluding the first token, which the prefill yields). */
  tokensPerSecond: number;
}

/** What {@link generate} returns for one prompt. */
export interface GenerateResult extends GeneratedText {
  /** Beam search with numReturnSequences > 1: every returned sequence, best first. */
  sequences: GeneratedText[];
  timing: GenerationTiming;
  /** The contrast used (null: plain). */
  contrast: ContrastPlan | null;
  /** The expert exit used (null: the model's own logits). */
  expert: ExpertPlan | null;
}

const OWN = new Set(['contrast', 'expertLayer', 'amateurLayer', 'alpha', 'minCandidates', 'mode', 'beta', 'amateurPath', 'stopStrings', 'chatTemplate', 'addSpecialTokens']);

function num(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`Expected ${name} to be a number but received ${String(v)}`);
  if (v < lo || v > hi) throw new RangeError(`Expected ${name} in [${lo}, ${hi}] but received ${v}`);
  return v;
}

/** Resolves `expertLayer` (null = the model's own logits), with clear errors; see {@link ContrastModel.expertPlan}. */
export function expertPlan(model: ContrastModel, o: Pick<GenerateTextOptions, 'expertLayer'>): ExpertPlan | null {
  return model.expertPlan(o.expertLayer);
}

/** Resolves the contrast options into a plan (null = plain), with clear errors. */
export function contrastPlan(model: ContrastModel, o: GenerateTextOptions): ContrastPlan | null {
  const on = o.contrast ?? true;
  if (typeof on !== 'boolean') throw new TypeError(`Expected contrast to be true or false but received ${String(on)}`);
  if (!on) {
    for (const k of ['amateurLayer', 'alpha', 'minCandidates', 'mode', 'beta', 'amateurPath'] as const) {
      if (o[k] !== undefined) throw new TypeError(`${k} was given together with contrast: false (drop one of them)`);
    }
    return null;
  }
  const expertLayer = o.expertLayer;
  if (expertLayer !== undefined && (typeof expertLayer !== 'number' || !Number.isInteger(expertLayer))) {
    throw new TypeError(`Expected expertLayer to be an integer but received ${String(expertLayer)}`);
  }
  let layer = o.amateurLayer;
  if (layer === undefined) {
    layer = model.defaultAmateurLayer(expertLayer ?? model.numLayers);
    if (layer === undefined) {
      throw new RangeError(
        expertLayer === undefined
          ? 'this model has no exit below the last layer to contrast with (pass contrast: false, or convert with --exits)'
          : `this model has no exit below the expert layer ${expertLayer} to contrast with (pass contrast: false, or a higher expertLayer)`,
      );
    }
  }
  if (!Number.isInteger(layer)) throw new TypeError(`Expected amateurLayer to be an integer but received ${String(layer)}`);
  if (layer < 0 || layer > model.numLayers) throw new RangeError(`amateurLayer ${layer} is out of range: layers are 0..${model.numLayers}`);
  if (expertLayer !== undefined && layer >= expertLayer) {
    throw new RangeError(`amateurLayer ${layer} must be below expertLayer ${expertLayer} (the amateur is the earlier exit)`);
  }
  const mode = o.mode ?? 'acd';
  if (mode !== 'acd' && mode !== 'cd') throw new TypeError(`Expected mode 'acd' or 'cd' but received '${String(mode)}'`);
  const alpha = num('alpha', o.alpha ?? 0.1, 0, 1);
  const minCandidates = num('minCandidates', o.minCandidates ?? 1, 1, model.vocabSize);
  if (!Number.isInteger(minCandidates)) throw new TypeError(`Expected minCandidates to be an integer but received ${minCandidates}`);
  if (o.beta !== undefined) {
    num('beta', o.beta, 0, Number.MAX_VALUE);
    if (mode !== 'cd') throw new TypeError("beta is for mode 'cd' (mode is 'acd')");
  }
  const prefer = o.amateurPath ?? 'auto';
  if (prefer !== 'auto' && prefer !== 'sparse' && prefer !== 'dense') throw new TypeError(`Expected amateurPath 'auto', 'sparse' or 'dense' but received '${String(prefer)}'`);
  const path = model.amateurPath(layer, prefer);
  return { layer, mode, alpha, minCandidates, ...(o.beta !== undefined ? { beta: o.beta } : {}), path };
}

/**
 * Token ids of a prompt (text through the tokenizer, with the chat template when asked for). Prompts of `limit`
 * tokens or more are refused (default: the context length, which leaves room for one generated token).
 */
export function encodePrompt(
  model: ContrastModel,
  prompt: Prompt,
  o: Pick<GenerateTextOptions, 'chatTemplate' | 'addSpecialTokens'> = {},
  index = 0,
  limit = model.contextLength,
): number[] {
  let ids: number[];
  if (typeof prompt === 'string') {
    if (prompt.length === 0) throw new RangeError(`Prompt ${index} is empty: give some text`);
    const tpl = o.chatTemplate ?? 'none';
    if (tpl !== 'none' && tpl !== 'chatml') throw new TypeError(`Expected chatTemplate 'chatml' or 'none' but received '${String(tpl)}'`);
    const text = tpl === 'chatml' ? `<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n` : prompt;
    if (!model.tokenizer) throw new TypeError(`this model folder has no tokenizer.json: give prompt ${index} as token ids`);
    ids = model.tokenizer.encode(text, { addSpecialTokens: o.addSpecialTokens ?? true });
  } else if (Array.isArray(prompt)) {
    ids = prompt.slice();
  } else {
    throw new TypeError(`Expected prompt ${index} to be a string or an array of token ids but received ${typeof prompt}`);
  }
  if (ids.length === 0) throw new RangeError(`Prompt ${index} is empty: it has no tokens`);
  for (const t of ids) {
    if (!Number.isInteger(t) || t < 0 || t >= model.vocabSize) throw new RangeError(`Prompt ${index} has token ${t}, outside [0, ${model.vocabSize})`);
  }
  if (ids.length >= limit) {
    throw new RangeError(`Prompt ${index} has ${ids.length} tokens, more than the context allows (${model.contextLength} tokens, including at least one generated)`);
  }
  return ids;
}

/** The text a continuation adds to its prompt (special tokens skipped; correct across multi-byte tokens). */
export function continuationText(model: ContrastModel, promptIds: number[], gen: number[]): string {
  const tok = model.tokenizer;
  if (gen.length === 0 || !tok) return '';
  const opts = { skipSpecialTokens: true };
  // Decode with the prompt's tail as context, so that tokenizers that drop a leading space at the start
  // of a text (SentencePiece) keep the continuation's own spacing.
  const ctx = promptIds.slice(-4);
  const before = tok.decode(ctx, opts);
  const full = tok.decode(ctx.concat(gen), opts);
  return full.startsWith(before) ? full.slice(before.length) : tok.decode(gen, opts);
}

function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

function splitOptions(o: GenerateTextOptions): DecodingOptions {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!OWN.has(k)) rest[k] = v;
  return { ...(rest as DecodingOptions), contrast: false };
}

function checkStops(stops: unknown): string[] {
  if (stops === undefined) return [];
  if (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new TypeError('Expected stopStrings to be an array of non-empty strings');
  }
  return stops as string[];
}

/**
 * Generates a continuation of `prompt` (or of each of `prompts`, decoded together as one batch).
 *
 * Contrast is on by default: auto-contrastive decoding with the middle exit as amateur (`amateurLayer`,
 * `alpha`, `minCandidates`, `mode`); `contrast: false` decodes plainly. Every strategy of src/decoding works
 * (`greedy`, `beam`, `top-k`, `top-p`, `sample`), the contrast applied first and then the sampling warpers.
 * @throws TypeError / RangeError for bad options, an empty prompt, a prompt longer than the context, an
 * unknown strategy or an amateur layer without an exit.
 */
export async function generate(model: ContrastModel, prompt: Prompt, options?: GenerateTextOptions): Promise<GenerateResult>;
export async function generate(model: ContrastModel, prompts: Prompt[], options?: GenerateTextOptions): Promise<GenerateResult[]>;
export async function generate(model: ContrastModel, input: Prompt | Prompt[], options: GenerateTextOptions = {}): Promise<GenerateResult | GenerateResult[]> {
  if (!model || typeof model.decoder !== 'function') throw new TypeError('Expected a model from load()');
  const single = typeof input === 'string' || (Array.isArray(input) && (input.length === 0 || typeof input[0] === 'number'));
  const prompts: Prompt[] = single ? [input as Prompt] : (input as Prompt[]);
  if (!Array.isArray(prompts) || prompts.length === 0) throw new TypeError('Expected a prompt, or a non-empty array of prompts');
  if (single && Array.isArray(input) && input.length === 0) throw new RangeError('Prompt 0 is empty: it has no tokens');
  if (options === null || typeof options !== 'object') throw new TypeError('Expected options to be an object');
  const stops = checkStops(options.stopStrings);
  const expert = expertPlan(model, options);
  const plan = contrastPlan(model, options);
  const ids = prompts.map((p, i) => encodePrompt(model, p, options, i));
  const longest = Math.max(...ids.map((p) => p.length));
  const dec = splitOptions(options);
  const maxNew = dec.maxNewTokens ?? 32;
  if (Number.isInteger(maxNew) && maxNew > 0 && longest + maxNew > model.contextLength) dec.maxNewTokens = model.contextLength - longest;
  if (stops.length) {
    const user = dec.stopWhen;
    const beam = (dec.strategy ?? 'greedy') === 'beam';
    if (beam) throw new TypeError('stopStrings are not supported with beam search (rows are beams, not prompts)');
    dec.stopWhen = (row, tokens) => (user?.(row, tokens) ?? false) || cutAtStop(continuationText(model, ids[row], tokens as number[]), stops).stopped;
  }
  const res = await generateTokens(model.decoder(plan, expert), ids, dec);
  const count = res.sequences.reduce((s, seqs) => s + (seqs[0]?.tokens.length ?? 0), 0);
  const timing: GenerationTiming = {
    prefillMs: res.timing.prefillMs,
    decodeMs: res.timing.decodeMs,
    tokens: count,
    tokensPerSecond: res.timing.steps > 1 && res.timing.decodeMs > 0 ? ((res.timing.steps - 1) * prompts.length) / (res.timing.decodeMs / 1000) : 0,
  };
  const out = res.sequences.map((seqs, p): GenerateResult => {
    const texts = seqs.map((s): GeneratedText => {
      const raw = continuationText(model, ids[p], s.tokens);
      const cut = stops.length ? cutAtStop(raw, stops) : { text: raw, stopped: false };
      return {
        text: cut.text,
        promptTokens: ids[p],
        tokens: s.tokens,
        logProbs: s.logProbs,
        finishReason: cut.stopped ? 'stop' : s.finishReason,
        ...(s.score !== undefined ? { score: s.score } : {}),
      };
    });
    const best = texts[0] ?? { text: '', promptTokens: ids[p], tokens: [], logProbs: [], finishReason: 'length' as FinishReason };
    return { ...best, sequences: texts, timing, contrast: plan, expert };
  });
  return single ? out[0] : out;
}

/** Options of {@link stream}. */
export interface StreamOptions extends Omit<GenerateTextOptions, 'onToken'> {}

/**
 * Generates like {@link generate} (one prompt, not beam search) and yields the text as it comes, in chunks
 * that never split a character (a token ending inside a multi-byte character is held back until the
 * character is complete). The chunks concatenate to `generate`'s text. Abort with `signal`: the iterator
 * then throws the signal's reason. Breaking out of the loop stops the generation.
 */
export async function* stream(model: ContrastModel, prompt: Prompt, options: StreamOptions = {}): AsyncGenerator<string, void, undefined> {
  if ((options.strategy ?? 'greedy') === 'beam') throw new TypeError('stream does not support beam search (the best beam is known only at the end)');
  if (Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== 'number') throw new TypeError('stream takes one prompt');
  const queue: number[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: unknown;
  let stopped = false;
  const internal = new AbortController();
  const outer = options.signal;
  const onOuterAbort = () => internal.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) throw outer.reason ?? new Error('Generation aborted');
    outer.addEventListener('abort', onOuterAbort, { once: true });
  }
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const ids = encodePrompt(model, prompt, options);
  const run = generate(model, ids, {
    ...options,
    signal: internal.signal,
    onToken: (_row: number, t: number) => {
      queue.push(t);
      notify();
    },
  } as GenerateTextOptions).then(
    (r) => r,
    (e) => {
      failure = e;
      return null;
    },
  ).finally(() => {
    finished = true;
    notify();
  });
  const stops = checkStops(options.stopStrings);
  const gen: number[] = [];
  let emitted = '';
  try {
    for (;;) {
      if (queue.length === 0 && !finished) await new Promise<void>((r) => (wake = r));
      if (queue.length) gen.push(...queue.splice(0));
      if (failure !== undefined) throw failure;
      let text = continuationText(model, ids, gen);
      if (stops.length) text = cutAtStop(text, stops).text;
      if (finished) {
        const r = await run;
        if (failure !== undefined) throw failure;
        const final = r ? (r as GenerateResult).text : text;
        if (final.length > emitted.length && final.startsWith(emitted)) yield final.slice(emitted.length);
        return;
      }
      // Hold back an incomplete character, and (with stop strings) text that could start a stop string.
      let safe = text.endsWith('\uFFFD') ? text.replace(/\uFFFD+$/, '') : text;
      if (stops.length) {
        const hold = Math.max(...stops.map((s) => s.length)) - 1;
        safe = safe.slice(0, Math.max(emitted.length, safe.length - hold));
      }
      if (safe.length > emitted.length && safe.startsWith(emitted)) {
        const chunk = safe.slice(emitted.length);
        emitted = safe;
        yield chunk;
      }
    }
  } finally {
    stopped = true;
    if (!finished) internal.abort(new Error('stream closed'));
    outer?.removeEventListener('abort', onOuterAbort);
    await run;
    void stopped;
  }
}

/** Options of {@link score}. */
export interface ScoreOptions extends Pick<GenerateTextOptions, 'contrast' | 'expertLayer' | 'amateurLayer' | 'alpha' | 'minCandidates' | 'mode' | 'beta' | 'amateurPath' | 'addSpecialTokens'> {
  /**
   * Longest forward input in tokens (default: the context length). A longer text is scored in rolling windows
   * of this size, each scoring `stride` new tokens.
   */
  window?: number;
  /** New tokens scored per window (default: half the window). */
  stride?: number;
}

/** What {@link score} returns. */
export interface ScoreResult {
  /** Token ids of the text (special tokens included when the tokenizer adds them). */
  tokens: number[];
  /** For tokens[1..]: the log-probability of each given the tokens before it (length tokens.length - 1). */
  logProbs: number[];
  /** Sum of logProbs. */
  total: number;
  /** exp(-mean log-prob). */
  perplexity: number;
  /** The contrast used (null: plain). */
  contrast: ContrastPlan | null;
  /** The expert exit used (null: the model's own logits). */
  expert: ExpertPlan | null;
  /** For tokens[1..]: whether each was the arg-max of its distribution (the greedy choice). */
  greedy: boolean[];
}

/**
 * Per-token log-probabilities of `text` (or of token ids) under the plain (`contrast: false`, the default)
 * or the contrasted distribution, and whether each token was the greedy choice. The whole text is scored in
 * one forward run over all its positions (see {@link scoreBatch}); with an early-exit `expertLayer`, or a
 * graph that outputs the last position only, it steps through the text one decode step per token instead
 * (the same path and numerics as {@link generate}). Both agree to about 1e-5 in log-probability.
 */
export async function score(model: ContrastModel, text: Prompt, options: ScoreOptions = {}): Promise<ScoreResult> {
  const expert = expertPlan(model, options);
  const plan = contrastPlan(model, { contrast: false, ...options });
  // A text longer than the context is scored in rolling windows, so the prompt length limit does not apply.
  const ids = encodePrompt(model, text, { addSpecialTokens: options.addSpecialTokens }, 0, Infinity);
  if (ids.length < 2) throw new RangeError(`score needs at least two tokens (the text has ${ids.length})`);
  if (expert || model.manifest.graph.logitPositions === 'last') return scoreByStepping(model, ids, plan, expert);
  const window = options.window ?? model.contextLength;
  if (!Number.isInteger(window) || window < 2 || window > model.contextLength) {
    throw new RangeError(`Expected options.window to be an integer in [2, ${model.contextLength}] but received ${String(options.window)}`);
  }
  const items = ids.length - 1 <= window ? [{ ids, from: 1 }] : windowItems(ids, window, options.stride ?? Math.floor(window / 2));
  const scored = await scoreBatch(model, items, {
    ...(plan ? { amateurs: [plan.layer], mode: plan.mode, alpha: plan.alpha, minCandidates: plan.minCandidates, beta: plan.beta } : {}),
  });
  const logProbs: number[] = [];
  const greedy: boolean[] = [];
  for (const r of scored) {
    const s = plan ? r.contrast.get(plan.layer)! : r.expert;
    logProbs.push(...s.logProbs);
    for (const g of s.greedy) greedy.push(g === 1);
  }
  const total = logProbs.reduce((a, b) => a + b, 0);
  return { tokens: ids, logProbs, total, perplexity: Math.exp(-total / logProbs.length), contrast: plan, expert, greedy };
}

/** {@link score} one decode step per token (prefill of the first token, then one step per token). */
export async function scoreByStepping(model: ContrastModel, ids: number[], plan: ContrastPlan | null, expert: ExpertPlan | null): Promise<ScoreResult> {
  const V = model.vocabSize;
  const session = (await model.decoder(plan, expert).createSession({ rows: 1, maxLength: ids.length })) as RuntimeSession;
  const row = new Float32Array(V);
  const logProbs: number[] = [];
  const greedy: boolean[] = [];
  try {
    let out = await session.prefill([[ids[0]]]);
    for (let i = 1; i < ids.length; i++) {
      row.set(out.expert.subarray(0, V));
      logSoftmaxInPlace(row);
      logProbs.push(row[ids[i]]);
      greedy.push(argmax(row) === ids[i]);
      if (i < ids.length - 1) out = await session.step([ids[i]]);
    }
  } finally {
    session.dispose();
  }
  const total = logProbs.reduce((a, b) => a + b, 0);
  return { tokens: ids, logProbs, total, perplexity: Math.exp(-total / logProbs.length), contrast: plan, expert, greedy };
}
