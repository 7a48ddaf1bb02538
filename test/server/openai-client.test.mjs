// The server through the official openai client (a client no one here wrote): completions, chat, streaming,
// logprobs, echo with max_tokens 0, errors as the SDK's error classes; greedy output equals generate().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import OpenAI from 'openai';
import { gen, maxAbsDiff, raw, skipReason, start, stories } from './helpers.mjs';

const skip = await skipReason();
if (skip) console.log(`skipped: ${skip}`);
let S = null;
async function srv() {
  S ??= await start();
  return S;
}
const PROMPT = 'Once upon a time';

test('completions: greedy text, tokens and log-probabilities equal generate(), plain, contrasted, DoLa and a layer chosen per step', async () => {
  if (skip) return;
  const { client } = await srv();
  const m = await stories();
  for (const c of [
    { api: { contrast: false }, lib: { contrast: false } },
    { api: {}, lib: {} },
    { api: { amateur_layer: 3, alpha: 0.2, contrast_mode: 'cd' }, lib: { amateurLayer: 3, alpha: 0.2, mode: 'cd' } },
    { api: { contrast_mode: 'dola' }, lib: { mode: 'dola' } },
    { api: { contrast_mode: 'dola', dola_layers: [1, 3], repetition_penalty: 1 }, lib: { mode: 'dola', dolaLayers: [1, 3], repetitionPenalty: 1 } },
    { api: { amateur_layer: 'auto', dola_layers: [2, 3] }, lib: { amateurLayer: 'auto', dolaLayers: [2, 3] } },
    { api: { contrast_mode: 'dola', dola_layers: [1, 3], dola_head: 'int8' }, lib: { mode: 'dola', dolaLayers: [1, 3], dolaHead: 'int8' } },
  ]) {
    const r = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 24, temperature: 0, logprobs: 0, ...c.api });
    const g = await gen.generate(m, PROMPT, { maxNewTokens: 24, ...c.lib });
    assert.is(r.object, 'text_completion');
    assert.is(r.choices[0].text, g.text, JSON.stringify(c.api));
    assert.is(r.choices[0].logprobs.token_logprobs.length, g.tokens.length);
    const d = maxAbsDiff(r.choices[0].logprobs.token_logprobs, g.logProbs);
    assert.ok(d < 1e-4, `log-prob diff ${d}`);
    assert.is(r.usage.completion_tokens, g.tokens.length);
    assert.is(r.usage.prompt_tokens, g.promptTokens.length);
    assert.is(r.choices[0].finish_reason, g.finishReason === 'length' ? 'length' : 'stop');
  }
});

test('completions: token-id prompts, several prompts and n choices, stop strings, seeded sampling', async () => {
  if (skip) return;
  const { client } = await srv();
  const m = await stories();
  const ids = m.tokenizer.encode(PROMPT, { addSpecialTokens: true });
  const a = await client.completions.create({ model: 'stories', prompt: ids, max_tokens: 8, temperature: 0 });
  const b = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 8, temperature: 0 });
  assert.is(a.choices[0].text, b.choices[0].text);
  const several = await client.completions.create({ model: 'stories', prompt: [PROMPT, 'The cat'], n: 2, max_tokens: 6, temperature: 0 });
  assert.equal(several.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.is(several.choices[0].text, several.choices[1].text); // greedy: both choices alike
  const g = await gen.generate(m, 'The cat', { maxNewTokens: 6 });
  assert.is(several.choices[2].text, g.text);
  const stopped = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 30, temperature: 0, stop: ['little'], contrast: false });
  assert.is(stopped.choices[0].finish_reason, 'stop');
  assert.is(stopped.choices[0].text.trim(), ', there was a');
  const s1 = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 12, temperature: 1, top_p: 0.9, seed: 7 });
  const s2 = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 12, temperature: 1, top_p: 0.9, seed: 7 });
  assert.is(s1.choices[0].text, s2.choices[0].text);
  const lib = await gen.generate(m, PROMPT, { strategy: 'top-p', topP: 0.9, temperature: 1, seed: 7, maxNewTokens: 12 });
  assert.is(s1.choices[0].text, lib.text);
});

test('completions: top-N logprobs hold the chosen token and are sorted', async () => {
  if (skip) return;
  const { client } = await srv();
  const r = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 10, temperature: 0, logprobs: 3 });
  const lp = r.choices[0].logprobs;
  assert.is(lp.tokens.join(''), r.choices[0].text);
  lp.top_logprobs.forEach((top, i) => {
    const vals = Object.values(top);
    assert.ok(vals.length >= 1 && vals.length <= 3);
    for (let k = 1; k < vals.length; k++) assert.ok(vals[k - 1] >= vals[k]);
    assert.ok(Math.abs(vals[0] - lp.token_logprobs[i]) < 1e-6, 'greedy picks the most likely token');
  });
  assert.equal(lp.text_offset[0], 0);
});

test('echo with max_tokens 0 scores the prompt: the log-probabilities of score()', async () => {
  if (skip) return;
  const { client } = await srv();
  const m = await stories();
  const text = 'Once upon a time, there was a little girl named Lily.';
  for (const [api, lib] of [[{ contrast: false }, { contrast: false }], [{ amateur_layer: 2 }, { contrast: true, amateurLayer: 2 }]]) {
    const r = await client.completions.create({ model: 'stories', prompt: text, max_tokens: 0, echo: true, logprobs: 1, ...api });
    const s = await gen.score(m, text, lib);
    const lp = r.choices[0].logprobs;
    assert.is(r.choices[0].text, text);
    assert.is(lp.token_logprobs[0], null);
    assert.is(lp.token_logprobs.length, s.tokens.length);
    const d = maxAbsDiff(lp.token_logprobs.slice(1), s.logProbs);
    assert.ok(d < 1e-4, `diff ${d}`);
    assert.is(r.usage.completion_tokens, 0);
  }
  const more = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 4, echo: true, temperature: 0 });
  assert.ok(more.choices[0].text.startsWith(PROMPT) && more.choices[0].text.length > PROMPT.length);
});

test("lm-evaluation-harness's loglikelihood request (token-id prompts, echo, max_tokens 1, logprobs 1): decode-step log-probs, exact greedy flags, one batch = one by one", async () => {
  if (skip) return;
  const { client } = await srv();
  const m = await stories();
  // A greedy continuation: every token after the prompt is its distribution's arg-max, and generate() stepped
  // through it one decode step at a time (a path independent of the echo's scoring run).
  const g = await gen.generate(m, PROMPT, { maxNewTokens: 12, contrast: false });
  const promptIds = m.tokenizer.encode(PROMPT, { addSpecialTokens: true });
  const greedyIds = [...promptIds, ...g.tokens];
  const other = m.tokenizer.encode('Once upon a time, there was a big dog named Max. He liked to run.', { addSpecialTokens: true });
  const shape = { temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true, contrast: false };
  const both = await client.completions.create({ model: 'stories', prompt: [greedyIds, other], ...shape });
  assert.is(both.choices.length, 2);
  for (const [k, ids] of [greedyIds, other].entries()) {
    const lp = both.choices[k].logprobs;
    // The harness reads token_logprobs[ctxlen:-1]: one entry per prompt token (the first null), then the generated one.
    assert.is(lp.token_logprobs.length, ids.length + 1);
    assert.is(lp.token_logprobs[0], null);
    lp.top_logprobs.slice(1).forEach((top) => assert.is(Object.keys(top).length, 1));
    const one = await client.completions.create({ model: 'stories', prompt: ids, ...shape });
    const d = maxAbsDiff(one.choices[0].logprobs.token_logprobs.slice(1, -1), lp.token_logprobs.slice(1, -1));
    assert.ok(d < 1e-5, `batched vs alone: ${d}`);
  }
  const lp = both.choices[0].logprobs;
  const scored = lp.token_logprobs.slice(promptIds.length, -1);
  const d = maxAbsDiff(scored, g.logProbs);
  assert.ok(d < 1e-4, `echo vs decode steps: ${d}`);
  // The harness's is_greedy: the token's log-prob equals the top entry's, compared with !=.
  lp.top_logprobs.slice(promptIds.length, -1).forEach((top, i) => assert.ok(scored[i] === Math.max(...Object.values(top)), `token ${i} is greedy`));
  // The other text is not all greedy: where score() says a token is not the arg-max, the harness's test fails too.
  const s = await gen.score(m, other, { contrast: false });
  const lo = both.choices[1].logprobs;
  let notGreedy = 0;
  s.greedy.forEach((isGreedy, i) => {
    const equal = lo.token_logprobs[i + 1] === Math.max(...Object.values(lo.top_logprobs[i + 1]));
    assert.is(equal, isGreedy, `token ${i + 1}`);
    if (!isGreedy) notGreedy++;
  });
  assert.ok(notGreedy > 0);
});

test('streaming completions and chat: chunks concatenate to the whole answer; the stream ends with [DONE]', async () => {
  if (skip) return;
  const { client, url } = await srv();
  const whole = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 20, temperature: 0 });
  const stream = await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 20, temperature: 0, stream: true, logprobs: 1 });
  let text = '', finish = null, lps = 0;
  for await (const ch of stream) {
    for (const c of ch.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
      lps += c.logprobs?.token_logprobs?.length ?? 0;
    }
  }
  assert.is(text, whole.choices[0].text);
  assert.is(finish, whole.choices[0].finish_reason);
  assert.is(lps, whole.usage.completion_tokens);
  const chatWhole = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 16, temperature: 0 });
  const chatStream = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let ct = '', usage = null, role = null;
  for await (const ch of chatStream) {
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) {
      ct += c.delta.content ?? '';
      role ??= c.delta.role ?? null;
    }
  }
  assert.is(role, 'assistant');
  assert.is(ct, chatWhole.choices[0].message.content);
  assert.equal(usage, chatWhole.usage);
  const rawStream = await raw(url, { body: JSON.stringify({ model: 'stories', prompt: PROMPT, max_tokens: 3, stream: true }) });
  assert.is(rawStream.status, 200);
  assert.match(rawStream.headers['content-type'], /text\/event-stream/);
  assert.ok(rawStream.body.trimEnd().endsWith('data: [DONE]'));
});

test('chat: the ChatML-rendered prompt decodes as generate() with chatTemplate chatml; logprobs with top_logprobs', async () => {
  if (skip) return;
  const { client } = await srv();
  const m = await stories();
  const r = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Tell a story' }], max_completion_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 2 });
  const g = await gen.generate(m, 'Tell a story', { chatTemplate: 'chatml', maxNewTokens: 12 });
  assert.is(r.object, 'chat.completion');
  assert.is(r.choices[0].message.role, 'assistant');
  assert.is(r.choices[0].message.content, g.text);
  const content = r.choices[0].logprobs.content;
  assert.is(content.length, g.tokens.length);
  assert.ok(maxAbsDiff(content.map((c) => c.logprob), g.logProbs) < 1e-4);
  for (const c of content) {
    assert.is(c.top_logprobs.length, 2);
    assert.ok(c.top_logprobs[0].logprob >= c.top_logprobs[1].logprob);
    assert.equal(c.bytes, [...Buffer.from(c.token, 'utf8')]);
  }
});

test('models, health and metrics', async () => {
  if (skip) return;
  const { client, url } = await srv();
  const list = await client.models.list();
  assert.equal(list.data.map((x) => x.id), ['stories']);
  const one = await client.models.retrieve('stories');
  assert.is(one.id, 'stories');
  const h = await raw(url, { method: 'GET', path: '/health' });
  assert.is(h.status, 200);
  assert.is(JSON.parse(h.body).status, 'ok');
  const mt = await raw(url, { method: 'GET', path: '/metrics' });
  assert.is(mt.status, 200);
  for (const name of ['autocontrast_requests_total{route="/v1/completions",status="200"}', 'autocontrast_completion_tokens_total', 'autocontrast_queue_depth',
    'autocontrast_batch_size_bucket', 'autocontrast_time_to_first_token_seconds_bucket', 'autocontrast_time_per_output_token_seconds_count']) {
    assert.ok(mt.body.includes(name), name);
  }
  const tokens = Number(/autocontrast_completion_tokens_total (\d+)/.exec(mt.body)[1]);
  assert.ok(tokens > 50, `tokens ${tokens}`);
});

test('errors surface as the SDK error classes with the right status, code and param', async () => {
  if (skip) return;
  const { client } = await srv();
  const fails = async (p) => p.then(() => null, (e) => e);
  const cases = [
    [() => client.completions.create({ model: 'nope', prompt: 'x', max_tokens: 2 }), OpenAI.NotFoundError, 404, 'model_not_found', 'model'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, temperature: 5 }), OpenAI.BadRequestError, 400, 'invalid_value', 'temperature'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, best_of: 3 }), OpenAI.BadRequestError, 400, 'unsupported_field', 'best_of'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 100000 }), OpenAI.BadRequestError, 400, 'context_length_exceeded', 'max_tokens'],
    [() => client.completions.create({ model: 'stories', prompt: 'word '.repeat(3000), max_tokens: 1 }), OpenAI.BadRequestError, 400, 'context_length_exceeded', 'prompt'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, amateur_layer: 99 }), OpenAI.BadRequestError, 400, 'invalid_value', 'amateur_layer'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, contrast: false, alpha: 0.5 }), OpenAI.BadRequestError, 400, 'conflicting_fields', 'alpha'],
    [() => client.completions.create({ model: 'stories', prompt: [1, 2, 1e9], max_tokens: 2 }), OpenAI.BadRequestError, 400, 'invalid_value', 'prompt'],
    // Library options are checked by the generation configuration in the request's naming (snake_case fields).
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, alpha: 2 }), OpenAI.BadRequestError, 400, 'invalid_value', 'alpha'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, min_candidates: 0 }), OpenAI.BadRequestError, 400, 'invalid_value', 'min_candidates'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, contrast_mode: 'xyz' }), OpenAI.BadRequestError, 400, 'invalid_value', 'contrast_mode'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, alpha: 'high' }), OpenAI.BadRequestError, 400, 'invalid_type', 'alpha'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, beta: 0.5 }), OpenAI.BadRequestError, 400, 'conflicting_fields', 'beta'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, temperature: 0, top_k: 0 }), OpenAI.BadRequestError, 400, 'invalid_value', 'top_k'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, min_tokens: 5 }), OpenAI.BadRequestError, 400, 'conflicting_fields', 'min_tokens'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, contrast_mode: 'dola', dola_layers: 'middle' }), OpenAI.BadRequestError, 400, 'invalid_type', 'dola_layers'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, contrast_mode: 'dola', dola_layers: [0] }), OpenAI.BadRequestError, 400, 'invalid_value', 'dola_layers'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, contrast_mode: 'dola', dola_head: 'int4' }), OpenAI.BadRequestError, 400, 'invalid_value', 'dola_head'],
    [() => client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, dola_head: 'int8' }), OpenAI.BadRequestError, 400, 'conflicting_fields', 'dola_head'],
    [() => client.chat.completions.create({ model: 'stories', messages: [{ role: 'robot', content: 'x' }] }), OpenAI.BadRequestError, 400, 'invalid_value', 'messages[0].role'],
    [() => client.chat.completions.create({ model: 'stories', messages: [], max_tokens: 2 }), OpenAI.BadRequestError, 400, 'invalid_type', 'messages'],
  ];
  // One request at a time (a rejection created early would be unhandled while an earlier one is awaited).
  for (const [p, cls, status, code, param] of cases) {
    const e = await fails(p());
    assert.instance(e, cls, `${code} ${param}`);
    assert.is(e.status, status);
    assert.is(e.code, code);
    assert.is(e.param, param);
    assert.ok(e.message.length > 10);
  }
  // min_tokens above the library's default max_new_tokens (32) is fine when max_tokens allows it.
  const long = await client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 40, min_tokens: 40, temperature: 0 });
  assert.is(long.usage.completion_tokens, 40);
  // The message says what was expected, in the request's names.
  const e = await fails(client.completions.create({ model: 'stories', prompt: 'x', max_tokens: 2, min_candidates: 0 }));
  assert.match(e.message, /min_candidates must be an integer >= 1, got 0/);
});

test('raw HTTP errors: 405 with Allow, 404 route, 413, malformed JSON', async () => {
  if (skip) return;
  const { url } = await srv();
  const r405 = await raw(url, { method: 'GET', path: '/v1/completions' });
  assert.is(r405.status, 405);
  assert.is(r405.headers.allow, 'POST');
  assert.is(JSON.parse(r405.body).error.code, 'method_not_allowed');
  const r404 = await raw(url, { method: 'GET', path: '/v2/nothing' });
  assert.is(r404.status, 404);
  assert.is(JSON.parse(r404.body).error.type, 'not_found_error');
  const big = await raw(url, { body: JSON.stringify({ model: 'stories', prompt: 'x'.repeat(2 << 20) }) });
  assert.is(big.status, 413);
  const bad = await raw(url, { body: '{"model": "stories", "prompt": ' });
  assert.is(bad.status, 400);
  const e = JSON.parse(bad.body).error;
  assert.is(e.code, 'invalid_json');
  assert.equal(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
});

test.after(async () => {
  if (S) await S.close();
});

test.run();
