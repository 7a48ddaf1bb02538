/**
 * Request bodies of /v1/completions and /v1/chat/completions checked field by field: wrong types and values are
 * 400s naming the API field (`param`) and what was expected; fields this server does not implement are refused
 * unless they carry their neutral value, so nothing is silently ignored.
 */
import { checkOption, GENERATION_OPTIONS, optionLabel, resolveGeneration, type GenerationOptionValues, type OptionDef, type OptionName, type ResolvedGeneration } from '../config/generation';
import type { Sampling } from './engine';
import { ApiError, badField } from './errors';

/**
 * Server-wide defaults of the generation options a request may set (from `serve`'s flags), in the library's
 * names; a request's own fields win. `temperature` is OpenAI's (0 = greedy; default 1).
 */
export type RequestDefaults = Pick<GenerationOptionValues, 'contrast' | 'amateurLayer' | 'alpha' | 'mode' | 'minCandidates' | 'beta' | 'dolaLayers' | 'dolaHead' | 'topK' | 'repetitionPenalty'> & {
  temperature?: number;
};

/**
 * The request fields that are library generation options: validated, defaulted and named by the one
 * configuration (src/config/generation.ts, naming `request`), not here. Their field names come from the
 * configuration's `field` entries.
 */
const LIBRARY_OPTIONS = ['contrast', 'amateurLayer', 'alpha', 'mode', 'minCandidates', 'beta', 'dolaLayers', 'dolaHead', 'topK', 'repetitionPenalty', 'minNewTokens', 'seed'] as const satisfies readonly OptionName[];

/** A library argument error (TypeError / RangeError with `option`) as a 400 naming the request field. */
function fieldError(e: unknown): unknown {
  const option = (e as { option?: string }).option;
  if (!(e instanceof TypeError || e instanceof RangeError) || option === undefined) return e;
  // A TypeError on an enum is a value outside its list (invalid_value); on other kinds, a value of the wrong type.
  const enumOption = (GENERATION_OPTIONS as Record<string, OptionDef>)[option]?.kind === 'enum';
  const code = (e as { conflict?: boolean }).conflict ? 'conflicting_fields' : e instanceof TypeError && !enumOption ? 'invalid_type' : 'invalid_value';
  return badField(optionLabel(option, 'request'), e.message, code);
}

/** One option checked by the configuration; its error a 400 on the request field. */
function checkRequestOption(k: OptionName, v: unknown): void {
  try {
    checkOption(k, v, 'request');
  } catch (e) {
    throw fieldError(e);
  }
}

/** `resolveGeneration` in the request's naming; its errors become 400s on the request field. */
export function resolveRequestOptions(values: GenerationOptionValues): ResolvedGeneration {
  try {
    return resolveGeneration(values, 'request');
  } catch (e) {
    throw fieldError(e);
  }
}

/** What both endpoints share after validation. */
export interface CommonRequest {
  model: string;
  n: number;
  /** undefined: the endpoint's default. */
  maxTokens?: number;
  sampling: Sampling;
  /** The contrast settings, resolved by the generation configuration (the model-dependent part: at planning). */
  options: Pick<ResolvedGeneration, 'contrast' | 'expertLayer'>;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
}

/** A validated completions request. */
export interface CompletionRequest extends CommonRequest {
  /** Text or token-id prompts (one choice set each). */
  prompts: (string | number[])[];
  /** Top alternatives per token (null: no logprobs). */
  logprobs: number | null;
  echo: boolean;
}

/** A chat message. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

/** A validated chat request. */
export interface ChatRequest extends CommonRequest {
  messages: ChatMessage[];
  logprobs: boolean;
  topLogprobs: number;
}

type Body = Record<string, unknown>;

const COMMON = ['model', 'max_tokens', 'temperature', 'top_p', 'n', 'stop', 'seed', 'stream', 'stream_options', 'user',
  'frequency_penalty', 'presence_penalty', 'logit_bias', 'contrast', 'amateur_layer', 'alpha', 'contrast_mode',
  'min_candidates', 'beta', 'dola_layers', 'dola_head', 'top_k', 'repetition_penalty', 'min_tokens'];
const COMPLETION_FIELDS = new Set([...COMMON, 'prompt', 'logprobs', 'echo', 'best_of', 'suffix']);
const CHAT_FIELDS = new Set([...COMMON, 'messages', 'logprobs', 'top_logprobs', 'max_completion_tokens']);
/** Most top alternatives per token a request may ask for. */
export const MAX_TOP_LOGPROBS = 20;
/** Most choices per prompt. */
export const MAX_N = 16;

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function int(b: Body, k: string, lo: number, hi: number): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badField(k, `${k} must be an integer, got ${kind(v)} ${JSON.stringify(v)}`, 'invalid_type');
  if (v < lo || v > hi) throw badField(k, `${k} must be in [${lo}, ${hi}], got ${v}`);
  return v;
}

function num(b: Body, k: string, lo: number, hi: number, openLow = false): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badField(k, `${k} must be a number, got ${kind(v)} ${JSON.stringify(v)}`, 'invalid_type');
  if (v < lo || v > hi || (openLow && v === lo)) throw badField(k, `${k} must be in ${openLow ? '(' : '['}${lo}, ${hi}], got ${v}`);
  return v;
}

function bool(b: Body, k: string): boolean | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badField(k, `${k} must be true or false, got ${kind(v)} ${JSON.stringify(v)}`, 'invalid_type');
  return v;
}

function checkFields(b: Body, allowed: Set<string>): void {
  for (const k of Object.keys(b)) if (!allowed.has(k)) throw badField(k, `unknown field '${k}'`, 'unknown_field');
  // Fields of the OpenAI schema this server does not implement: accepted only with their neutral value.
  for (const k of ['frequency_penalty', 'presence_penalty']) {
    if (b[k] !== undefined && b[k] !== null && b[k] !== 0) throw badField(k, `${k} is not supported by this server (use repetition_penalty)`, 'unsupported_field');
  }
  const lb = b.logit_bias;
  if (lb !== undefined && lb !== null && !(typeof lb === 'object' && !Array.isArray(lb) && Object.keys(lb).length === 0)) {
    throw badField('logit_bias', 'logit_bias is not supported by this server', 'unsupported_field');
  }
  if (b.user !== undefined && typeof b.user !== 'string') throw badField('user', 'user must be a string', 'invalid_type');
}

function common(b: Body, d: RequestDefaults): CommonRequest {
  if (typeof b.model !== 'string' || b.model.length === 0) throw badField('model', `model must be a non-empty string (a name from GET /v1/models), got ${kind(b.model)}`, b.model === undefined ? 'missing_field' : 'invalid_type');
  const n = int(b, 'n', 1, MAX_N) ?? 1;
  const maxTokens = int(b, 'max_tokens', 0, 1 << 24);
  // OpenAI's own fields keep OpenAI's meaning: temperature in [0, 2] with 0 = greedy, top_p in (0, 1].
  const temperature = num(b, 'temperature', 0, 2) ?? d.temperature ?? 1;
  const topP = num(b, 'top_p', 0, 1, true);
  // The library's options: the request's fields over the server's defaults, in the library's names.
  const given: GenerationOptionValues = { ...d };
  delete (given as { temperature?: number }).temperature;
  for (const k of LIBRARY_OPTIONS) {
    const v = b[optionLabel(k, 'request')];
    if (v !== undefined && v !== null) (given as Record<string, unknown>)[k] = v;
  }
  // contrast: false drops the server's contrast defaults (the request's own contrast fields still conflict).
  if (b.contrast === false) {
    for (const k of ['amateurLayer', 'alpha', 'mode', 'minCandidates', 'beta', 'dolaLayers', 'dolaHead'] as const) {
      const own = b[optionLabel(k, 'request')];
      if (own === undefined || own === null) delete given[k];
    }
  }
  if (minTokensExceed(given.minNewTokens, maxTokens)) throw badField('min_tokens', `min_tokens (${String(given.minNewTokens)}) exceeds max_tokens (${maxTokens})`, 'conflicting_fields');
  const ownTopK = b.top_k !== undefined && b.top_k !== null;
  let strategy: Sampling['strategy'] = 'sample';
  if (temperature === 0) strategy = 'greedy';
  else if (ownTopK && topP !== undefined && topP < 1) throw badField('top_k', 'give top_k or top_p, not both (this server applies one of them)', 'conflicting_fields');
  else if (ownTopK) strategy = 'top-k';
  else if (topP !== undefined && topP < 1) strategy = 'top-p';
  else if (given.topK !== undefined) strategy = 'top-k';
  // top_k and seed are checked even when the strategy does not use them (greedy); the rest in one resolve.
  for (const k of ['topK', 'seed'] as const) if (given[k] !== undefined) checkRequestOption(k, given[k]);
  // max_tokens is the endpoint's (0 for echo, its own default when absent; checked against min_tokens above):
  // the configuration sees the largest bound so that its own default does not cap min_tokens.
  const r = resolveRequestOptions({
    ...given, strategy: strategy === 'greedy' ? 'greedy' : 'sample', topK: undefined, ...(strategy === 'greedy' ? { seed: undefined } : {}),
    maxNewTokens: GENERATION_OPTIONS.maxNewTokens.max,
  });
  const topK = given.topK;
  const sampling: Sampling = {
    strategy, temperature: temperature || 1, topK: topK ?? 50, topP: topP ?? 1, repetitionPenalty: r.repetitionPenalty,
    // No seed: a fresh one per request (OpenAI's behaviour: unseeded sampling differs between calls).
    seed: (given.seed as number | undefined) ?? Math.floor(Math.random() * 2 ** 31),
    ...(r.minNewTokens ? { minTokens: r.minNewTokens } : {}),
  };
  const stop = b.stop;
  let stops: string[] = [];
  if (typeof stop === 'string') stops = [stop];
  else if (Array.isArray(stop)) stops = stop as string[];
  else if (stop !== undefined && stop !== null) throw badField('stop', `stop must be a string or an array of strings, got ${kind(stop)}`, 'invalid_type');
  if (stops.length > 4 || stops.some((s) => typeof s !== 'string' || s.length === 0)) throw badField('stop', 'stop must hold at most 4 non-empty strings');
  const stream = bool(b, 'stream') ?? false;
  let includeUsage = false;
  const so = b.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) throw badField('stream_options', 'stream_options must be an object', 'invalid_type');
    const iu = (so as Body).include_usage;
    if (iu !== undefined && typeof iu !== 'boolean') throw badField('stream_options', 'stream_options.include_usage must be true or false', 'invalid_type');
    includeUsage = iu === true;
  }
  return { model: b.model, n, maxTokens, sampling, options: { contrast: r.contrast }, stop: stops, stream, includeUsage };
}

const minTokensExceed = (min: unknown, max: number | undefined): boolean => typeof min === 'number' && max !== undefined && min > max;

function asBody(body: unknown): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_body', `the request body must be a JSON object, got ${kind(body)}`);
  return body as Body;
}

const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');

/** Validates a /v1/completions body. */
export function parseCompletion(body: unknown, d: RequestDefaults): CompletionRequest {
  const b = asBody(body);
  checkFields(b, COMPLETION_FIELDS);
  const c = common(b, d);
  const bestOf = b.best_of;
  if (bestOf !== undefined && bestOf !== null && bestOf !== 1 && bestOf !== c.n) {
    throw badField('best_of', 'best_of is not supported by this server (it returns every generated choice: use n)', 'unsupported_field');
  }
  if (b.suffix !== undefined && b.suffix !== null) throw badField('suffix', 'suffix (insertion) is not supported by this server', 'unsupported_field');
  const p = b.prompt;
  let prompts: (string | number[])[];
  if (typeof p === 'string') prompts = [p];
  else if (isIds(p)) prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' || isIds(x))) prompts = p as (string | number[])[];
  else throw badField('prompt', `prompt must be a string, an array of strings, an array of token ids or an array of such arrays, got ${p === undefined ? 'nothing' : kind(p)}`, p === undefined ? 'missing_field' : 'invalid_type');
  prompts.forEach((x, i) => {
    if (typeof x === 'string' && x.length === 0) throw badField('prompt', `prompt ${i} is empty`);
    if (typeof x !== 'string' && x.some((t) => !Number.isInteger(t) || t < 0)) throw badField('prompt', `prompt ${i} holds a value that is not a token id (a non-negative integer)`);
  });
  const logprobs = int(b, 'logprobs', 0, MAX_TOP_LOGPROBS) ?? null;
  const echo = bool(b, 'echo') ?? false;
  if (c.maxTokens === 0 && !echo) throw badField('max_tokens', 'max_tokens 0 is only meaningful with echo: true (scoring the prompt)');
  if (echo && c.stream && c.maxTokens === 0) throw badField('stream', 'echo with max_tokens 0 is answered as one response: drop stream');
  return { ...c, prompts, logprobs, echo };
}

/** Validates a /v1/chat/completions body. */
export function parseChat(body: unknown, d: RequestDefaults): ChatRequest {
  const b = asBody(body);
  checkFields(b, CHAT_FIELDS);
  const c = common(b, d);
  const mct = int(b, 'max_completion_tokens', 1, 1 << 24);
  if (mct !== undefined && c.maxTokens !== undefined && mct !== c.maxTokens) throw badField('max_completion_tokens', 'give max_tokens or max_completion_tokens, not both', 'conflicting_fields');
  const maxTokens = mct ?? c.maxTokens;
  if (maxTokens === 0) throw badField('max_tokens', 'max_tokens must be at least 1 for chat');
  const m = b.messages;
  if (!Array.isArray(m) || m.length === 0) throw badField('messages', `messages must be a non-empty array of { role, content }, got ${m === undefined ? 'nothing' : kind(m)}`, m === undefined ? 'missing_field' : 'invalid_type');
  const messages = m.map((x, i): ChatMessage => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) throw badField(`messages[${i}]`, `messages[${i}] must be an object { role, content }`, 'invalid_type');
    const { role, content } = x as Body;
    if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant') {
      throw badField(`messages[${i}].role`, `messages[${i}].role must be system, developer, user or assistant, got ${JSON.stringify(role)}`);
    }
    let text: string;
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content) && content.every((p) => p && typeof p === 'object' && (p as Body).type === 'text' && typeof (p as Body).text === 'string')) {
      text = content.map((p) => (p as Body).text as string).join('');
    } else throw badField(`messages[${i}].content`, `messages[${i}].content must be a string or an array of { type: 'text', text } parts`, 'invalid_type');
    return { role, content: text };
  });
  const logprobs = bool(b, 'logprobs') ?? false;
  const topLogprobs = int(b, 'top_logprobs', 0, MAX_TOP_LOGPROBS);
  if (topLogprobs !== undefined && !logprobs) throw badField('top_logprobs', 'top_logprobs needs logprobs: true');
  return { ...c, maxTokens, messages, logprobs, topLogprobs: topLogprobs ?? 0 };
}

/** ChatML (`<|im_start|>role\n...<|im_end|>\n`, then the assistant's turn): SmolLM2-Instruct's template. */
export function renderChatML(messages: readonly ChatMessage[]): string {
  const turns = messages.map((m) => `<|im_start|>${m.role === 'developer' ? 'system' : m.role}\n${m.content}<|im_end|>\n`);
  return `${turns.join('')}<|im_start|>assistant\n`;
}
