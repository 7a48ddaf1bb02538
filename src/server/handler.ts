/**
 * The request handler: `(req, res, next?) => void` for node:http, Express, Fastify (raw) and Koa. Routes
 * /v1/completions, /v1/chat/completions, /v1/models, /health and /metrics; anything else goes to `next` when
 * given (middleware), else 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';

import { optionLabel, resolveGeneration } from '../config/generation';
import { encodePrompt, planContrast } from '../generate/generate';
import type { ContrastModel, ContrastPlan } from '../generate/model';
import { BatchEngine } from './batcher';
import { runChoices, type ChoiceResult, type ChoiceSpec, type SeqToken } from './choices';
import type { DecodeRequest, Engine, PromptLogprob } from './engine';
import { ApiError, badField, toApiError } from './errors';
import { Metrics } from './metrics';
import { endEventStream, openEventStream, sendEvent } from './sse';
import { tokenText } from './text';
import { parseChat, parseCompletion, renderChatML, type CommonRequest, type RequestDefaults } from './validate';

/** Options of {@link createHandler} and `createServer`. */
export interface HandlerOptions {
  /** The models served, by name (or one model, named after its folder). Loaded with `load()`; the caller disposes them. */
  models: Record<string, ContrastModel> | ContrastModel;
  /** Server-wide defaults of request fields (contrast settings, sampling). */
  defaults?: RequestDefaults;
  /** Rows decoded together per model (default 16). */
  maxBatch?: number;
  /** Sequences waiting for a slot before 429 (default 64). */
  maxQueue?: number;
  /** Positions per sequence (prompt + generated) of the running batch (default min(context, 2048)). */
  maxContext?: number;
  /** Per-request time limit in ms (default 0: none). */
  timeoutMs?: number;
  /** Largest request body in bytes (default 1 MiB): larger ones get 413. */
  maxBodyBytes?: number;
}

/** A mounted request handler; `close` stops it gracefully. */
export interface Handler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Stops accepting generation requests; finishes or cancels what runs within `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>;
  /** The server's metrics. */
  readonly metrics: Metrics;
  /** The engine of each model name. */
  readonly engines: ReadonlyMap<string, Engine>;
}

interface Served {
  name: string;
  model: ContrastModel;
  engine: BatchEngine;
  created: number;
}

const ROUTES: Record<string, string[]> = {
  '/v1/completions': ['POST'],
  '/v1/chat/completions': ['POST'],
  '/v1/models': ['GET'],
  '/health': ['GET'],
  '/metrics': ['GET'],
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = toApiError(e);
  if (res.headersSent) {
    // Mid-stream: the status is gone; report the error as an event, then end the stream.
    sendEvent(res, err.toJSON());
    endEventStream(res);
    return;
  }
  sendJson(res, err.status === 499 ? 400 : err.status, err.toJSON(), err.headers);
}

/** Reads the JSON body (or takes the one a framework already parsed). */
function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const pre = (req as IncomingMessage & { body?: unknown }).body;
  if (pre !== undefined && pre !== null && !(typeof pre === 'object' && Object.keys(pre as object).length === 0 && !Buffer.isBuffer(pre))) {
    if (typeof pre === 'string' || Buffer.isBuffer(pre)) return Promise.resolve(parseJson(pre.toString()));
    return Promise.resolve(pre);
  }
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new ApiError(413, 'body_too_large', `the request body (${declared} bytes) exceeds the limit of ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        reject(new ApiError(413, 'body_too_large', `the request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) return;
      try {
        resolve(parseJson(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', (e) => reject(new ApiError(400, 'body_read_failed', `reading the request body failed: ${e.message}`)));
  });
}

function parseJson(text: string): unknown {
  if (text.trim().length === 0) throw new ApiError(400, 'invalid_json', 'the request body is empty: send a JSON object');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;

/** Creates the handler (and one continuous-batching engine per model). */
export function createHandler(options: HandlerOptions): Handler {
  if (!options || typeof options !== 'object') throw new TypeError('createHandler expects { models, ... }');
  const entries: [string, ContrastModel][] = isModel(options.models) ? [[basename(options.models.dir), options.models]] : Object.entries(options.models ?? {});
  if (!entries.length) throw new TypeError('createHandler: models must name at least one model loaded with load()');
  const metrics = new Metrics();
  const defaults = options.defaults ?? {};
  const served = new Map<string, Served>();
  for (const [name, model] of entries) {
    if (!isModel(model)) throw new TypeError(`createHandler: models['${name}'] is not a model from load()`);
    const plan = defaultPlan(model, defaults);
    served.set(name, {
      name, model, created: Math.floor(Date.now() / 1000),
      engine: new BatchEngine(model, { maxBatch: options.maxBatch, maxQueue: options.maxQueue, maxContext: options.maxContext, defaultPlan: plan, metrics }),
    });
  }
  metrics.gauges = () => {
    let queued = 0, running = 0;
    for (const s of served.values()) {
      queued += s.engine.queued;
      running += s.engine.running;
    }
    return { queued, running };
  };
  const limit = options.maxBodyBytes ?? 1 << 20;
  const timeoutMs = options.timeoutMs ?? 0;
  let closing = false;
  const inflight = new Set<AbortController>();

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
    const modelPath = path.startsWith('/v1/models/') ? '/v1/models' : path;
    const allowed = ROUTES[modelPath];
    if (!allowed) {
      if (next) return next();
      return sendError(res, new ApiError(404, 'route_not_found', `no route ${req.method} ${path} (routes: ${Object.keys(ROUTES).join(', ')})`));
    }
    res.on('finish', () => metrics.request(modelPath, res.statusCode));
    if (!allowed.includes(req.method ?? '')) {
      return sendError(res, new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${path} (use ${allowed.join(', ')})`, { headers: { Allow: allowed.join(', ') } }));
    }
    if (path === '/health') return sendJson(res, closing ? 503 : 200, { status: closing ? 'stopping' : 'ok', ...metrics.gauges() });
    if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      return void res.end(metrics.render());
    }
    if (modelPath === '/v1/models') {
      const list = [...served.values()].map((s) => ({ id: s.name, object: 'model', created: s.created, owned_by: 'autocontrast' }));
      if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: list });
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const m = list.find((x) => x.id === id);
      return m ? sendJson(res, 200, m) : sendError(res, new ApiError(404, 'model_not_found', `no model '${id}'`, { param: 'model' }));
    }
    if (closing) return sendError(res, new ApiError(503, 'server_shutting_down', 'the server is shutting down'));
    const ac = new AbortController();
    inflight.add(ac);
    const timer = timeoutMs > 0
      ? setTimeout(() => ac.abort(new ApiError(504, 'request_timeout', `the request took longer than the server's timeout of ${timeoutMs} ms`, { type: 'timeout_error' })), timeoutMs)
      : undefined;
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new ApiError(499, 'cancelled', 'the client closed the connection'));
    });
    const chat = path === '/v1/chat/completions';
    readBody(req, limit)
      .then((body) => (chat ? chatCompletion(body) : completion(body))(res, ac.signal))
      .catch((e) => sendError(res, e))
      .finally(() => {
        clearTimeout(timer);
        inflight.delete(ac);
      });
  }) as Handler;

  function pick(r: CommonRequest): Served {
    const s = served.get(r.model);
    if (!s) throw new ApiError(404, 'model_not_found', `no model '${r.model}' (models: ${[...served.keys()].join(', ')})`, { param: 'model' });
    return s;
  }

  function planOf(s: Served, r: CommonRequest): ContrastPlan | null {
    try {
      return planContrast(s.model, r.options, 'request');
    } catch (e) {
      throw toApiError(e, optionLabel((e as { option?: string }).option ?? 'contrast', 'request'));
    }
  }

  function encode(s: Served, prompt: string | number[], param: string, index: number): number[] {
    try {
      return encodePrompt(s.model, prompt, {}, index);
    } catch (e) {
      const msg = (e as Error).message;
      if (/more than the context/.test(msg)) throw new ApiError(400, 'context_length_exceeded', msg, { param });
      throw badField(param, msg.replace(/give prompt \d+ as token ids/, 'send the prompt as token ids'));
    }
  }

  function decodeRequest(s: Served, r: CommonRequest, prompt: number[], maxTokens: number, plan: ContrastPlan | null, topLogprobs: number, k: number, arrivedAt: number): DecodeRequest {
    if (prompt.length + maxTokens > s.engine.maxContext) {
      throw new ApiError(400, 'context_length_exceeded',
        `the prompt has ${prompt.length} tokens and max_tokens is ${maxTokens}: together more than this server's context of ${s.engine.maxContext} tokens`, { param: 'max_tokens' });
    }
    // n > 1: each choice samples with its own seed (seed, seed + 1, ...), so the choices differ.
    return { prompt, maxTokens, sampling: { ...r.sampling, seed: r.sampling.seed + k }, contrast: plan, topLogprobs, eos: s.model.eosTokenIds, arrivedAt };
  }

  const usage = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

  function completion(body: unknown) {
    const arrivedAt = performance.now();
    const r = parseCompletion(body, defaults);
    const s = pick(r);
    const plan = planOf(s, r);
    const ids = r.prompts.map((p, i) => encode(s, p, 'prompt', i));
    const maxTokens = r.maxTokens ?? 16;
    const top = r.logprobs ?? 0;
    const specs: ChoiceSpec[] = maxTokens === 0 ? [] : ids.flatMap((p, pi) => Array.from({ length: r.n }, (_, k) => ({ index: pi * r.n + k, request: decodeRequest(s, r, p, maxTokens, plan, top, k, arrivedAt) })));
    const id = newId('cmpl');
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = ids.reduce((a, p) => a + p.length, 0) * r.n;
    const echoText = (pi: number) => (typeof r.prompts[pi] === 'string' ? (r.prompts[pi] as string) : s.model.tokenizer ? s.model.tokenizer.decode(ids[pi], { skipSpecialTokens: false }) : '');
    return async (res: ServerResponse, signal: AbortSignal) => {
      // Echo with logprobs: every prompt scored together (one forward run on graphs with logits at every position).
      const scored: (PromptLogprob[] | null)[] = r.echo && r.logprobs !== null ? await s.engine.scorePrompts(ids, plan, top, signal) : ids.map(() => null);
      const lpBlock = (tokens: { token: number; prev?: number; logprob: number | null; top?: { token: number; logprob: number }[] | null }[], offset0: number) => {
        let off = offset0;
        const texts = tokens.map((t) => tokenText(s.model, t.token, t.prev));
        return {
          tokens: texts,
          token_logprobs: tokens.map((t) => t.logprob),
          top_logprobs: tokens.map((t) => (t.top ? Object.fromEntries(t.top.map((x) => [tokenText(s.model, x.token, t.prev), x.logprob])) : null)),
          text_offset: texts.map((t) => {
            const o = off;
            off += t.length;
            return o;
          }),
        };
      };
      const echoLp = (pi: number) => (scored[pi] ?? []).map((p, i, all) => ({ token: p.token, prev: all[i - 1]?.token, logprob: p.logprob, top: p.top }));
      if (r.stream) {
        openEventStream(res);
        const chunk = (index: number, text: string, logprobs: unknown, finish: string | null) =>
          sendEvent(res, { id, object: 'text_completion', created, model: s.name, choices: [{ index, text, logprobs, finish_reason: finish }] });
        if (r.echo) for (let pi = 0; pi < ids.length; pi++) for (let k = 0; k < r.n; k++) chunk(pi * r.n + k, echoText(pi), r.logprobs !== null ? lpBlock(echoLp(pi), 0) : null, null);
        const results = await runChoices(s.engine, s.model, specs, r.stop, {
          signal,
          onDelta: (index, delta, tokens) => {
            if (!delta && !(r.logprobs !== null && tokens.length)) return;
            chunk(index, delta, r.logprobs !== null ? lpBlock(tokens, 0) : null, null);
          },
        });
        for (const c of results) chunk(c.index, '', null, c.finishReason);
        if (r.includeUsage) sendEvent(res, { id, object: 'text_completion', created, model: s.name, choices: [], usage: usage(promptTokens, count(results)) });
        return endEventStream(res);
      }
      const results: ChoiceResult[] = specs.length
        ? await runChoices(s.engine, s.model, specs, r.stop, { signal })
        : ids.flatMap((_, pi) => Array.from({ length: r.n }, (_, k) => ({ index: pi * r.n + k, text: '', tokens: [], finishReason: 'length' as const })));
      const choices = results.map((c) => {
        const pi = Math.floor(c.index / r.n);
        const pre = r.echo ? echoText(pi) : '';
        let logprobs = null;
        if (r.logprobs !== null) {
          const head = r.echo ? echoLp(pi) : [];
          const a = lpBlock(head, 0), b = lpBlock(c.tokens, pre.length);
          logprobs = { tokens: [...a.tokens, ...b.tokens], token_logprobs: [...a.token_logprobs, ...b.token_logprobs], top_logprobs: [...a.top_logprobs, ...b.top_logprobs], text_offset: [...a.text_offset, ...b.text_offset] };
        }
        return { index: c.index, text: pre + c.text, logprobs, finish_reason: c.finishReason };
      });
      sendJson(res, 200, { id, object: 'text_completion', created, model: s.name, choices, usage: usage(promptTokens, count(results)) });
    };
  }

  function chatCompletion(body: unknown) {
    const arrivedAt = performance.now();
    const r = parseChat(body, defaults);
    const s = pick(r);
    const plan = planOf(s, r);
    const ids = encode(s, renderChatML(r.messages), 'messages', 0);
    const maxTokens = r.maxTokens ?? s.engine.maxContext - ids.length;
    const top = r.logprobs ? Math.max(r.topLogprobs, 0) : 0;
    // The chosen token's log-probability needs no alternatives; top_logprobs asks for them.
    const specs = Array.from({ length: r.n }, (_, k) => ({ index: k, request: decodeRequest(s, r, ids, maxTokens, plan, top, k, arrivedAt) }));
    const id = newId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    const entry = (t: SeqToken) => {
      const text = tokenText(s.model, t.token, t.prev);
      return {
        token: text, logprob: t.logprob, bytes: [...Buffer.from(text, 'utf8')],
        top_logprobs: (t.top ?? []).map((x) => {
          const tt = tokenText(s.model, x.token, t.prev);
          return { token: tt, logprob: x.logprob, bytes: [...Buffer.from(tt, 'utf8')] };
        }),
      };
    };
    return async (res: ServerResponse, signal: AbortSignal) => {
      if (r.stream) {
        openEventStream(res);
        const chunk = (index: number, delta: object, logprobs: unknown, finish: string | null) =>
          sendEvent(res, { id, object: 'chat.completion.chunk', created, model: s.name, choices: [{ index, delta, logprobs, finish_reason: finish }] });
        for (let k = 0; k < r.n; k++) chunk(k, { role: 'assistant', content: '' }, null, null);
        const results = await runChoices(s.engine, s.model, specs, r.stop, {
          signal,
          onDelta: (index, delta, tokens) => {
            if (!delta && !(r.logprobs && tokens.length)) return;
            chunk(index, { content: delta }, r.logprobs ? { content: tokens.map(entry) } : null, null);
          },
        });
        for (const c of results) chunk(c.index, {}, null, c.finishReason);
        if (r.includeUsage) sendEvent(res, { id, object: 'chat.completion.chunk', created, model: s.name, choices: [], usage: usage(ids.length * r.n, count(results)) });
        return endEventStream(res);
      }
      const results = await runChoices(s.engine, s.model, specs, r.stop, { signal });
      sendJson(res, 200, {
        id, object: 'chat.completion', created, model: s.name,
        choices: results.map((c) => ({
          index: c.index,
          message: { role: 'assistant', content: c.text },
          logprobs: r.logprobs ? { content: c.tokens.map(entry) } : null,
          finish_reason: c.finishReason,
        })),
        usage: usage(ids.length * r.n, count(results)),
      });
    };
  }

  Object.defineProperties(handler, {
    metrics: { value: metrics },
    engines: { value: new Map([...served].map(([k, v]) => [k, v.engine])) },
    close: {
      value: async (deadlineMs = 10_000) => {
        closing = true;
        // Requests that arrived before closing may still be reading their body: let them reach the engine.
        const end = Date.now() + Math.max(0, deadlineMs);
        while (inflight.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        await Promise.all([...served.values()].map((s) => s.engine.close(end - Date.now())));
        for (const ac of inflight) ac.abort(new ApiError(503, 'server_shutting_down', 'the server is shutting down'));
      },
    },
  });
  return handler;
}

const count = (results: ChoiceResult[]) => results.reduce((a, c) => a + c.tokens.length, 0);

function isModel(m: unknown): m is ContrastModel {
  return !!m && typeof m === 'object' && typeof (m as ContrastModel).decoder === 'function' && typeof (m as ContrastModel).dir === 'string';
}

/** The server default's contrast plan (its lane carries plain requests too); null when contrast is off or impossible. */
function defaultPlan(model: ContrastModel, d: RequestDefaults): ContrastPlan | null {
  const { temperature: _t, topK: _k, repetitionPenalty: _r, ...contrast } = d;
  try {
    return planContrast(model, resolveGeneration(contrast), 'api');
  } catch {
    return null;
  }
}
