/**
 * The user-facing generation API: text in, (contrasted) text out. `generate` for one or many prompts,
 * `stream` as an async iterator of text chunks, `score` for per-token log-probabilities of a text.
 */
import { checkOption, optionLabel, resolveGeneration, type GenerationOptionValues, type OptionNaming, type ResolvedGeneration } from '../config/generation';
import { decodeResolved, type FinishReason } from '../decoding/generate';
import { resolveCallbacks, tokenLevel, type GenerateOptions as DecodingOptions, type ResolvedContrast, type ResolvedOptions } from '../decoding/options';
import { AutocontrastError, InvalidArgTypeError, OutOfRangeError } from '../errors';
import { contrastStep } from '../decoding/pipeline';
import { argmax } from '../decoding/processors';
import type { ContrastModel, ContrastPlan, ExpertPlan } from './model';
import { ChunkedText, cutAtStop, StopWatcher, TextStreamer } from './streamer';
import { scoreBatch, windowItems, type ScoreBatchOptions, type ScoredItem, type TokenScores } from './score-batch';

/** A prompt: text, or token ids (used as given). */
export type Prompt = string | number[];

/**
 * Options of {@link generate} and {@link stream}: the generation configuration (src/config/generation.ts, where
 * each option's meaning and default is defined once: `GENERATION_OPTIONS`) plus callbacks.
 *
 * Contrast is on by default (`contrast: false` decodes plainly); the amateur defaults to the exit nearest to
 * half the expert layer, below it; `expertLayer` below the last layer decodes from that exit (early exit); the
 * last layer selects the trained final head when the folder has a `head` exit there. See
 * {@link ContrastModel.expertPlan} and {@link ContrastModel.defaultAmateurLayer}.
 */
export interface GenerateTextOptions extends GenerationOptionValues, Omit<DecodingOptions, keyof GenerationOptionValues | 'contrast'> {}

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
  /**
   * A layer chosen per step (mode 'dola', amateurLayer 'auto'; not beam search): for each generated token, the
   * premature / amateur layer it was contrasted with.
   */
  amateurLayers?: number[];
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
  /** Whether the fused native step ran (contrast and selection in one native call) instead of the chain. */
  fused: boolean;
  /**
   * Which head computed the model's logits: `q8` the runtime's int8-block kernel on the head's exact 8-bit values
   * (src/generate/q8-head.ts), `graph` the graph's own product (AUTOCONTRAST_Q8_HEAD=0, or a head without that form).
   * DoLa's one-head path projects the final layer in its own kernel whatever this says.
   */
  head: 'graph' | 'q8';
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

/** Resolves `expertLayer` (null = the model's own logits), with clear errors; see {@link ContrastModel.expertPlan}. */
export function expertPlan(model: ContrastModel, o: Pick<GenerateTextOptions, 'expertLayer'>, naming: OptionNaming = 'api'): ExpertPlan | null {
  const layer = o.expertLayer === undefined ? undefined : (checkOption('expertLayer', o.expertLayer, naming) as number);
  return model.expertPlan(layer, optionLabel('expertLayer', naming));
}

/**
 * The contrast of a generation on `model` (null = plain): the resolved settings plus what needs the model,
 * checked: the amateur layer (default: see {@link ContrastModel.defaultAmateurLayer}) must have an exit and be
 * below the expert layer; minCandidates at most the vocabulary; the amateur path possible for that exit.
 */
export function planContrast(model: ContrastModel, r: Pick<ResolvedGeneration, 'contrast' | 'expertLayer'>, naming: OptionNaming = 'api'): ContrastPlan | null {
  const c = r.contrast;
  if (!c) return null;
  const label = (k: 'amateurLayer' | 'expertLayer' | 'minCandidates' | 'dolaLayers') => optionLabel(k, naming);
  if (c.dolaLayers !== undefined) {
    // A layer chosen per step: the candidates resolved against the model (buckets, exits, one shared head).
    if (c.minCandidates > model.vocabSize) {
      throw new OutOfRangeError(`${label('minCandidates')} ${c.minCandidates} exceeds the vocabulary size ${model.vocabSize}`, 'minCandidates');
    }
    const candidates = model.candidateLayers(c.dolaLayers, label('dolaLayers'));
    if (c.dolaHead === 'int8' && model.manifest.hiddenSize % 32 !== 0) {
      throw new OutOfRangeError(`${optionLabel('dolaHead', naming)} int8 needs a hidden size that is a multiple of 32 (the int8 blocks); this model's is ${model.manifest.hiddenSize}`, 'dolaHead');
    }
    const { amateurLayer: _l, amateurPath: _p, dolaLayers: _d, ...kernel } = c;
    return { ...kernel, layer: -1, candidates, path: 'sparse' };
  }
  const expertLayer = r.expertLayer ?? model.numLayers;
  let layer = c.amateurLayer as number | undefined;
  if (layer === undefined) {
    layer = model.defaultAmateurLayer(expertLayer);
    if (layer === undefined) {
      const off = naming === 'cli' ? '--no-contrast' : 'contrast: false';
      throw new OutOfRangeError(
        r.expertLayer === undefined
          ? `this model has no exit below the last layer to contrast with (pass ${off}, or convert with --exits)`
          : `this model has no exit below the expert layer ${r.expertLayer} to contrast with (pass ${off}, or a higher ${label('expertLayer')})`,
        'amateurLayer',
      );
    }
  }
  if (layer >= expertLayer) {
    throw new OutOfRangeError(
      r.expertLayer === undefined
        ? `${label('amateurLayer')} ${layer} is out of range: it must be below the expert layer, the last layer ${model.numLayers} (layers 0..${model.numLayers - 1})`
        : `${label('amateurLayer')} ${layer} must be below ${label('expertLayer')} ${expertLayer} (the amateur is the earlier exit)`,
      'amateurLayer',
    );
  }
  if (c.minCandidates > model.vocabSize) {
    throw new OutOfRangeError(`${label('minCandidates')} ${c.minCandidates} exceeds the vocabulary size ${model.vocabSize}`, 'minCandidates');
  }
  const path = model.amateurPath(layer, c.amateurPath, label('amateurLayer'));
  const { amateurLayer: _layer, amateurPath: _path, dolaLayers: _dola, ...settings } = c;
  return { ...settings, layer, path };
}

/** The pipeline's contrast settings of a plan (the amateur layer is the session's). */
function contrastOf(plan: ContrastPlan): ResolvedContrast {
  const { layer, path: _path, candidates, ...settings } = plan;
  return candidates ? { ...settings, candidates } : { ...settings, amateurLayer: layer };
}

/** Resolves the contrast options into a plan (null = plain), with clear errors (the API naming). */
export function contrastPlan(model: ContrastModel, o: GenerateTextOptions): ContrastPlan | null {
  return planContrast(model, resolveGeneration(o, 'api'));
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
    if (prompt.length === 0) throw new OutOfRangeError(`Prompt ${index} is empty: give some text`);
    const tpl = o.chatTemplate === undefined ? 'none' : checkOption('chatTemplate', o.chatTemplate, 'api');
    const text = tpl === 'chatml' ? `<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n` : prompt;
    if (!model.tokenizer) throw new InvalidArgTypeError(`this model folder has no tokenizer.json: give prompt ${index} as token ids`);
    ids = model.tokenizer.encode(text, { addSpecialTokens: o.addSpecialTokens === undefined ? true : (checkOption('addSpecialTokens', o.addSpecialTokens, 'api') as boolean) });
  } else if (Array.isArray(prompt)) {
    ids = prompt.slice();
  } else {
    throw new InvalidArgTypeError(`Expected prompt ${index} to be a string or an array of token ids but received ${typeof prompt}`);
  }
  if (ids.length === 0) throw new OutOfRangeError(`Prompt ${index} is empty: it has no tokens`);
  for (const t of ids) {
    if (!Number.isInteger(t) || t < 0 || t >= model.vocabSize) throw new OutOfRangeError(`Prompt ${index} has token ${t}, outside [0, ${model.vocabSize})`);
  }
  if (ids.length >= limit) {
    throw new OutOfRangeError(`Prompt ${index} has ${ids.length} tokens, more than the context allows (${model.contextLength} tokens, including at least one generated)`);
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

/** How {@link runGeneration} was asked: the options as given, resolved, and how errors name options. */
export interface GenerationRequest {
  /** The options as the caller gave them (callbacks are read from here). */
  options: GenerateTextOptions;
  /** The same, resolved by `resolveGeneration`. */
  resolved: ResolvedGeneration;
  /** `cli` when the options came from command-line flags (errors then name the flags). */
  naming: OptionNaming;
}

/**
 * Generates a continuation of `prompt` (or of each of `prompts`, decoded together as one batch).
 *
 * Contrast is on by default: auto-contrastive decoding with the middle exit as amateur (`amateurLayer`,
 * `alpha`, `minCandidates`, `mode`); `contrast: false` decodes plainly. Every strategy of src/decoding works
 * (`greedy`, `beam`, `top-k`, `top-p`, `sample`), the contrast applied first and then the sampling warpers.
 * @throws TypeError / RangeError (codes `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`) for bad options, an empty
 * prompt, a prompt longer than the context, an unknown strategy or an amateur layer without an exit.
 */
export async function generate(model: ContrastModel, prompt: Prompt, options?: GenerateTextOptions): Promise<GenerateResult>;
export async function generate(model: ContrastModel, prompts: Prompt[], options?: GenerateTextOptions): Promise<GenerateResult[]>;
export async function generate(model: ContrastModel, input: Prompt | Prompt[], options: GenerateTextOptions = {}): Promise<GenerateResult | GenerateResult[]> {
  return runGeneration(model, input, { options, resolved: resolveGeneration(options, 'api'), naming: 'api' });
}

/** {@link generate} with the options already resolved (the CLI resolves them before loading the model). */
export async function runGeneration(model: ContrastModel, input: Prompt | Prompt[], req: GenerationRequest): Promise<GenerateResult | GenerateResult[]> {
  if (!model || typeof model.decoder !== 'function') throw new InvalidArgTypeError('Expected a model from load()');
  const single = typeof input === 'string' || (Array.isArray(input) && (input.length === 0 || typeof input[0] === 'number'));
  const prompts: Prompt[] = single ? [input as Prompt] : (input as Prompt[]);
  if (!Array.isArray(prompts) || prompts.length === 0) throw new InvalidArgTypeError('Expected a prompt, or a non-empty array of prompts');
  if (single && Array.isArray(input) && input.length === 0) throw new OutOfRangeError('Prompt 0 is empty: it has no tokens');
  const { options, resolved: r, naming } = req;
  const stops = r.stopStrings;
  const expert = expertPlan(model, r, naming);
  const plan = planContrast(model, r, naming);
  const ids = prompts.map((p, i) => encodePrompt(model, p, r, i));
  const longest = Math.max(...ids.map((p) => p.length));
  const callbacks = resolveCallbacks(options, model.eosTokenIds[0]);
  const dec: ResolvedOptions = { ...tokenLevel(r), contrast: plan ? contrastOf(plan) : false, ...callbacks };
  dec.maxNewTokens = Math.min(r.maxNewTokens, model.contextLength - longest);
  if (dec.minNewTokens > dec.maxNewTokens) dec.minNewTokens = dec.maxNewTokens;
  if (stops.length) {
    const user = dec.stopWhen;
    const watchers = ids.map((p) => new StopWatcher(new TextStreamer(model.tokenizer, p), stops));
    dec.stopWhen = (row, tokens) => {
      const hit = watchers[row].push(tokens[tokens.length - 1]);
      return (user?.(row, tokens) ?? false) || hit;
    };
  }
  const res = await decodeResolved(model.decoder(plan, expert, { deterministic: r.deterministic }), ids, dec);
  const count = res.sequences.reduce((s, seqs) => s + (seqs[0]?.tokens.length ?? 0), 0);
  const timing: GenerationTiming = {
    prefillMs: res.timing.prefillMs,
    decodeMs: res.timing.decodeMs,
    tokens: count,
    tokensPerSecond: res.timing.steps > 1 && res.timing.decodeMs > 0 ? ((res.timing.steps - 1) * prompts.length) / (res.timing.decodeMs / 1000) : 0,
    fused: res.timing.fused,
    head: model.runtime.outputHead,
  };
  const out = res.sequences.map((seqs, p): GenerateResult => {
    const texts = seqs.map((s): GeneratedText => {
      const raw = continuationText(model, ids[p], s.tokens);
      const cut = cutAtStop(raw, stops);
      return {
        text: cut.text,
        promptTokens: ids[p],
        tokens: s.tokens,
        logProbs: s.logProbs,
        finishReason: cut.stopped ? 'stop' : s.finishReason,
        ...(s.score !== undefined ? { score: s.score } : {}),
        ...(s.amateurLayers ? { amateurLayers: s.amateurLayers.slice(0, s.tokens.length) } : {}),
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
 * character is complete; see {@link TextStreamer}). The chunks concatenate to `generate`'s text. Abort with
 * `signal`: the iterator then throws the signal's reason. Breaking out of the loop stops the generation.
 */
export async function* stream(model: ContrastModel, prompt: Prompt, options: StreamOptions = {}): AsyncGenerator<string, void, undefined> {
  const resolved = resolveGeneration(options, 'api');
  yield* streamResolved(model, prompt, { options, resolved, naming: 'api' });
}

/** {@link stream} with the options already resolved. */
export async function* streamResolved(model: ContrastModel, prompt: Prompt, req: GenerationRequest): AsyncGenerator<string, void, undefined> {
  const { options, resolved } = req;
  if (resolved.strategy === 'beam') throw new OutOfRangeError('stream does not support beam search (the best beam is known only at the end)', 'strategy');
  if (Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== 'number') throw new InvalidArgTypeError('stream takes one prompt');
  const queue: number[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: unknown;
  const internal = new AbortController();
  const outer = options.signal;
  const onOuterAbort = () => internal.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) throw outer.reason ?? new AutocontrastError('AC_ABORTED', 'Generation aborted');
    outer.addEventListener('abort', onOuterAbort, { once: true });
  }
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const ids = encodePrompt(model, prompt, resolved);
  const run = runGeneration(model, ids, {
    ...req,
    options: {
      ...options,
      signal: internal.signal,
      onToken: (_row: number, t: number) => {
        queue.push(t);
        notify();
      },
    },
  }).then(
    (r) => r as GenerateResult,
    (e) => {
      failure = e;
      return null;
    },
  ).finally(() => {
    finished = true;
    notify();
  });
  const text = new ChunkedText(model.tokenizer, ids, resolved.stopStrings);
  try {
    for (;;) {
      if (queue.length === 0 && !finished) await new Promise<void>((r) => (wake = r));
      let chunk = '';
      for (const t of queue.splice(0)) chunk += text.push(t);
      if (failure !== undefined) throw failure;
      if (chunk) yield chunk;
      if (finished) {
        const r = await run;
        if (failure !== undefined) throw failure;
        const rest = text.finish(r?.text);
        if (rest) yield rest;
        return;
      }
    }
  } finally {
    if (!finished) internal.abort(new AutocontrastError('AC_ABORTED', 'stream closed'));
    outer?.removeEventListener('abort', onOuterAbort);
    await run;
  }
}

/** Options of {@link score}. */
export interface ScoreOptions extends Pick<GenerateTextOptions, 'contrast' | 'expertLayer' | 'amateurLayer' | 'dolaLayers' | 'dolaHead' | 'alpha' | 'minCandidates' | 'mode' | 'beta' | 'amateurPath' | 'addSpecialTokens'> {
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
  /** A layer chosen per step (mode 'dola', amateurLayer 'auto'): the layer chosen at each of those positions. */
  amateurLayers?: number[];
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
 * one forward run over all its positions (see {@link scoreBatch}; with a layer chosen per step, every candidate's
 * hidden state comes out of that run and the layer is chosen per position); with an early-exit `expertLayer`, or a
 * graph that outputs the last position only, it steps through the text one decode step per token instead
 * (the same path and numerics as {@link generate}). Both agree to about 1e-5 in log-probability.
 */
export async function score(model: ContrastModel, text: Prompt, options: ScoreOptions = {}): Promise<ScoreResult> {
  const { window: windowOpt, stride, ...rest } = options;
  const r = resolveGeneration({ contrast: false, ...rest }, 'api', []);
  const expert = expertPlan(model, r);
  const plan = planContrast(model, r);
  // A text longer than the context is scored in rolling windows, so the prompt length limit does not apply.
  const ids = encodePrompt(model, text, { addSpecialTokens: r.addSpecialTokens }, 0, Infinity);
  if (ids.length < 2) throw new OutOfRangeError(`score needs at least two tokens (the text has ${ids.length})`);
  if (expert || model.manifest.graph.logitPositions === 'last') return scoreByStepping(model, ids, plan, expert);
  const window = windowOpt ?? model.contextLength;
  if (!Number.isInteger(window) || window < 2 || window > model.contextLength) {
    throw new OutOfRangeError(`Expected options.window to be an integer in [2, ${model.contextLength}] but received ${String(windowOpt)}`, 'window');
  }
  const items = ids.length - 1 <= window ? [{ ids, from: 1 }] : windowItems(ids, window, stride ?? Math.floor(window / 2));
  const scored = await scoreBatch(model, items, scoreOptionsOf(plan));
  const logProbs: number[] = [];
  const greedy: boolean[] = [];
  const layers: number[] = [];
  for (const res of scored) {
    const s = scoresOf(res, plan);
    logProbs.push(...s.logProbs);
    for (const g of s.greedy) greedy.push(g === 1);
    if (res.selected) layers.push(...res.selected.layers);
  }
  const total = logProbs.reduce((a, b) => a + b, 0);
  return { tokens: ids, logProbs, total, perplexity: Math.exp(-total / logProbs.length), ...(plan?.candidates ? { amateurLayers: layers } : {}), contrast: plan, expert, greedy };
}

/** The {@link scoreBatch} options that score `plan`'s distribution (null: the plain model's alone). */
export function scoreOptionsOf(plan: ContrastPlan | null): ScoreBatchOptions {
  if (!plan) return {};
  const { layer, path: _path, candidates, mode, dolaHead, ...settings } = plan;
  // A layer chosen per position (mode 'dola', amateurLayer 'auto'): every candidate's hidden state from the same run.
  return candidates ? { select: { candidates, mode, ...(dolaHead ? { head: dolaHead } : {}) }, ...settings } : { amateurs: [layer], mode: mode as 'acd' | 'cd', ...settings };
}

/** `plan`'s distribution in an item scored with {@link scoreOptionsOf}(plan). */
export function scoresOf(item: ScoredItem, plan: ContrastPlan | null): TokenScores {
  return !plan ? item.expert : plan.candidates ? item.selected! : item.contrast.get(plan.layer)!;
}

/** {@link score} one decode step per token (prefill of the first token, then one step per token), through the decoding pipeline. */
export async function scoreByStepping(model: ContrastModel, ids: number[], plan: ContrastPlan | null, expert: ExpertPlan | null): Promise<ScoreResult> {
  const V = model.vocabSize;
  const session = await model.decoder(plan, expert).createSession({ rows: 1, maxLength: ids.length });
  const row = new Float32Array(V);
  const logProbs: number[] = [];
  const greedy: boolean[] = [];
  const contrast = plan ? contrastOf(plan) : false;
  const chosen = plan?.candidates ? new Int32Array(1) : undefined;
  const layers: number[] = [];
  try {
    let out = await session.prefill([[ids[0]]]);
    for (let i = 1; i < ids.length; i++) {
      await contrastStep(out, V, contrast, row, chosen ? { layers: chosen } : {});
      if (chosen) layers.push(chosen[0]);
      logProbs.push(row[ids[i]]);
      greedy.push(argmax(row) === ids[i]);
      if (i < ids.length - 1) out = await session.step([ids[i]]);
    }
  } finally {
    session.dispose();
  }
  const total = logProbs.reduce((a, b) => a + b, 0);
  return { tokens: ids, logProbs, total, perplexity: Math.exp(-total / logProbs.length), ...(chosen ? { amateurLayers: layers } : {}), contrast: plan, expert, greedy };
}
