/**
 * Request bodies of /v1/completions and /v1/chat/completions checked field by field: wrong types and values are
 * 400s naming the API field (`param`) and what was expected; fields this server does not implement are refused
 * unless they carry their neutral value, so nothing is silently ignored.
 */
import type { Sampling } from './engine';
import { ApiError, badField } from './errors';

/** Server-wide defaults of the request fields (from the command line); a request's own fields win. */
export interface RequestDefaults {
  /** Contrast on (default true: auto-contrastive decoding, as the library). */
  contrast?: boolean;
  amateur_layer?: number;
  alpha?: number;
  contrast_mode?: 'acd' | 'cd';
  min_candidates?: number;
  beta?: number;
  top_k?: number;
  repetition_penalty?: number;
  /** Sampling temperature when a request gives none (OpenAI's default is 1). */
  temperature?: number;
}

/** The contrast fields of a request, in the library's option names (for contrastPlan). */
export interface ContrastFields {
  contrast: boolean;
  amateurLayer?: number;
  alpha?: number;
  mode?: 'acd' | 'cd';
  minCandidates?: number;
  beta?: number;
}

/** What both endpoints share after validation. */
export interface CommonRequest {
  model: string;
  n: number;
  /** undefined: the endpoint's default. */
  maxTokens?: number;
  sampling: Sampling;
  contrast: ContrastFields;
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
  'min_candidates', 'beta', 'top_k', 'repetition_penalty', 'min_tokens'];
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
  const temperature = num(b, 'temperature', 0, 2) ?? d.temperature ?? 1;
  const topP = num(b, 'top_p', 0, 1, true);
  const topK = int(b, 'top_k', 1, 1 << 24) ?? d.top_k;
  const seed = int(b, 'seed', -(2 ** 53) + 1, 2 ** 53 - 1);
  const repetitionPenalty = num(b, 'repetition_penalty', 0, 100, true) ?? d.repetition_penalty ?? 1;
  const minTokens = int(b, 'min_tokens', 0, 1 << 24);
  if (minTokens !== undefined && maxTokens !== undefined && minTokens > maxTokens) throw badField('min_tokens', `min_tokens (${minTokens}) exceeds max_tokens (${maxTokens})`);
  let strategy: Sampling['strategy'] = 'sample';
  if (temperature === 0) strategy = 'greedy';
  else if (topK !== undefined && topP !== undefined && topP < 1) throw badField('top_k', 'give top_k or top_p, not both (this server applies one of them)', 'conflicting_fields');
  else if (topK !== undefined) strategy = 'top-k';
  else if (topP !== undefined && topP < 1) strategy = 'top-p';
  const sampling: Sampling = {
    strategy, temperature: temperature || 1, topK: topK ?? 50, topP: topP ?? 1, repetitionPenalty,
    // No seed: a fresh one per request (OpenAI's behaviour: unseeded sampling differs between calls).
    seed: seed ?? Math.floor(Math.random() * 2 ** 31),
    ...(minTokens ? { minTokens } : {}),
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
  const on = bool(b, 'contrast') ?? d.contrast ?? true;
  const mode = b.contrast_mode ?? (on ? d.contrast_mode : undefined);
  if (mode !== undefined && mode !== null && mode !== 'acd' && mode !== 'cd') throw badField('contrast_mode', `contrast_mode must be 'acd' or 'cd', got ${JSON.stringify(mode)}`);
  const own = { amateur_layer: int(b, 'amateur_layer', 0, 1 << 20), alpha: num(b, 'alpha', 0, 1), min_candidates: int(b, 'min_candidates', 1, 1 << 24), beta: num(b, 'beta', 0, 1e6) };
  if (!on) {
    for (const [k, v] of Object.entries({ ...own, contrast_mode: b.contrast_mode })) {
      if (v !== undefined && v !== null) throw badField(k, `${k} was given together with contrast: false (drop one of them)`, 'conflicting_fields');
    }
  }
  const contrast: ContrastFields = on
    ? {
        contrast: true,
        ...((own.amateur_layer ?? d.amateur_layer) !== undefined ? { amateurLayer: own.amateur_layer ?? d.amateur_layer } : {}),
        ...((own.alpha ?? d.alpha) !== undefined ? { alpha: own.alpha ?? d.alpha } : {}),
        ...(mode ? { mode: mode as 'acd' | 'cd' } : {}),
        ...((own.min_candidates ?? d.min_candidates) !== undefined ? { minCandidates: own.min_candidates ?? d.min_candidates } : {}),
        ...((own.beta ?? d.beta) !== undefined ? { beta: own.beta ?? d.beta } : {}),
      }
    : { contrast: false };
  return { model: b.model, n, maxTokens, sampling, contrast, stop: stops, stream, includeUsage };
}

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
