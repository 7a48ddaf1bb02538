// The server under concurrent load and faults: batched rows agree with generate() alone, a cancelled stream
// frees its slot, a full queue answers 429, timeouts, graceful shutdown, and a fuzz of malformed bodies.
// Traffic goes to 127.0.0.1 only; every loop is bounded.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import OpenAI from 'openai';
import { storiesFolder } from '../generate/helpers.mjs';
// Internal module under test (not public): the server's text helpers, checked directly for their edge cases.
import textPkg from '../../dist/server/text.js';
import { gen, maxAbsDiff as maxAbs, raw, skipReason, start, stories } from './helpers.mjs';

const { tokenText } = textPkg;

const skip = await skipReason();
if (skip) console.log(`skipped: ${skip}`);
const PROMPTS = ['Once upon a time', 'The cat', 'Lily and Tom went to the park. They', 'One day, a little boy', 'The sun was', 'Sam had a red ball', 'Mom said', 'In the forest there was'];

const until = async (cond, ms = 20_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

test('concurrent requests share batched steps and agree with generate() alone (log-probs within 1e-3)', async () => {
  if (skip) return;
  const S = await start({ maxBatch: 8 });
  const m = await stories();
  try {
    const settings = (i) => (i % 2 ? { api: { contrast: false }, lib: { contrast: false } } : { api: { amateur_layer: 2 + (i % 3) }, lib: { amateurLayer: 2 + (i % 3) } });
    const jobs = PROMPTS.map((p, i) => S.client.completions.create({ model: 'stories', prompt: p, max_tokens: 20 + 3 * i, temperature: 0, logprobs: 2, ...settings(i).api }));
    const got = await Promise.all(jobs);
    let worst = 0, ties = 0;
    for (let i = 0; i < PROMPTS.length; i++) {
      const g = await gen.generate(m, PROMPTS[i], { maxNewTokens: 20 + 3 * i, ...settings(i).lib });
      const lp = got[i].choices[0].logprobs;
      if (got[i].choices[0].text === g.text) {
        worst = Math.max(worst, maxAbs(lp.token_logprobs, g.logProbs));
        continue;
      }
      // Tokens may differ only at a near-tie: where the two best alternatives are within 1e-3. Up to there the
      // tokens and log-probabilities agree.
      const aloneTexts = g.tokens.map((t, k) => tokenText(m, t, k ? g.tokens[k - 1] : g.promptTokens.at(-1)));
      const k = aloneTexts.findIndex((t, j) => t !== lp.tokens[j]);
      assert.ok(k >= 0, `prompt ${i}: texts differ but the tokens do not`);
      const top = Object.values(lp.top_logprobs[k]);
      assert.ok(top.length > 1 && top[0] - top[1] < 1e-3, `prompt ${i}: token ${k} differs without a near-tie (${top})`);
      worst = Math.max(worst, maxAbs(lp.token_logprobs.slice(0, k), g.logProbs.slice(0, k)));
      ties++;
    }
    console.log(`  8 concurrent requests: max |log-prob diff| vs alone ${worst.toExponential(2)}, near-ties reported: ${ties}`);
    assert.ok(worst < 1e-3, `diff ${worst}`);
    const h = S.srv.handler.metrics.batchSize;
    assert.ok(h.sum / h.count > 1.5, `mean batch ${h.sum / h.count}: steps were shared`);
  } finally {
    await S.close();
  }
});

test('a client that disconnects mid-stream frees its slot within a step; the next request runs', async () => {
  if (skip) return;
  const S = await start({ maxBatch: 1 });
  const engine = S.srv.handler.engines.get('stories');
  try {
    const ac = new AbortController();
    const stream = await S.client.completions.create({ model: 'stories', prompt: PROMPTS[0], max_tokens: 400, temperature: 0, stream: true }, { signal: ac.signal });
    let chunks = 0;
    // The SDK ends the iteration quietly (or throws an abort error) once its signal aborts.
    await (async () => {
      for await (const ch of stream) {
        void ch;
        if (++chunks === 3) ac.abort();
      }
    })().catch(() => null);
    assert.ok(chunks < 50, `chunks after the abort: ${chunks}`);
    assert.ok(await until(() => engine.running === 0 && engine.queued === 0), `running ${engine.running}`);
    const next = await S.client.completions.create({ model: 'stories', prompt: PROMPTS[1], max_tokens: 5, temperature: 0 });
    assert.is(next.usage.completion_tokens, 5);
    const mt = await raw(S.url, { method: 'GET', path: '/metrics' });
    assert.match(mt.body, /autocontrast_running_sequences 0/);
  } finally {
    await S.close();
  }
});

test('a full queue answers 429 with Retry-After (RateLimitError); a timeout answers 504', async () => {
  if (skip) return;
  const S = await start({ maxBatch: 1, maxQueue: 1 });
  const engine = S.srv.handler.engines.get('stories');
  try {
    const ac = new AbortController();
    const long = S.client.completions.create({ model: 'stories', prompt: PROMPTS[0], max_tokens: 400, temperature: 0 }, { signal: ac.signal }).catch((e) => e);
    assert.ok(await until(() => engine.running === 1));
    const waiting = S.client.completions.create({ model: 'stories', prompt: PROMPTS[1], max_tokens: 400, temperature: 0 }, { signal: ac.signal }).catch((e) => e);
    assert.ok(await until(() => engine.queued === 1));
    const e = await S.client.completions.create({ model: 'stories', prompt: PROMPTS[2], max_tokens: 4 }).then(() => null, (x) => x);
    assert.instance(e, OpenAI.RateLimitError);
    assert.is(e.status, 429);
    assert.is(e.code, 'queue_full');
    assert.is(e.headers.get('retry-after'), '1');
    ac.abort();
    await Promise.all([long, waiting]);
    assert.ok(await until(() => engine.running === 0 && engine.queued === 0), 'slots freed');
  } finally {
    await S.close();
  }
  const T = await start({ timeoutMs: 50 });
  try {
    const e = await T.client.completions.create({ model: 'stories', prompt: PROMPTS[0], max_tokens: 450, temperature: 0, repetition_penalty: 1.3 }).then(() => null, (x) => x);
    assert.ok(e, 'timed out');
    assert.is(e.status, 504);
    assert.is(e.code, 'request_timeout');
    const engineT = T.srv.handler.engines.get('stories');
    assert.ok(await until(() => engineT.running === 0), 'slot freed after the timeout');
  } finally {
    await T.close();
  }
});

test('health answers while the model decodes (event loop free)', async () => {
  if (skip) return;
  const S = await start({ maxBatch: 8 });
  const engine = S.srv.handler.engines.get('stories');
  try {
    const load = PROMPTS.map((p) => S.client.completions.create({ model: 'stories', prompt: p, max_tokens: 150, temperature: 0 }));
    assert.ok(await until(() => engine.running > 0, 20_000));
    // Not a timing threshold (those live in bench/serve.mjs): health is answered while sequences still decode,
    // so it does not wait for the generations.
    let during = 0;
    for (let i = 0; i < 10; i++) {
      const h = await raw(S.url, { method: 'GET', path: '/health' });
      assert.is(h.status, 200);
      if (JSON.parse(h.body).running > 0 && engine.running > 0) during++;
    }
    await Promise.all(load);
    console.log(`  /health answered ${during} of 10 times while sequences were decoding`);
    assert.ok(during >= 5, `answered during decoding: ${during} of 10`);
  } finally {
    await S.close();
  }
});

test('fuzz: a few hundred random and truncated bodies all get a 4xx in the OpenAI error shape; the server stays healthy', async () => {
  if (skip) return;
  const S = await start({ maxBatch: 4 });
  const engine = S.srv.handler.engines.get('stories');
  try {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const values = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', 'stories', [], [1, 'a'], [[]], {}, { a: 1 }, [-5], 'acd', 2 ** 53, NaN];
    const fields = ['model', 'prompt', 'messages', 'max_tokens', 'temperature', 'top_p', 'n', 'stop', 'seed', 'stream', 'logprobs', 'echo', 'best_of', 'contrast',
      'amateur_layer', 'alpha', 'contrast_mode', 'min_candidates', 'top_k', 'repetition_penalty', 'top_logprobs', 'max_completion_tokens', 'stream_options', 'zzz'];
    const valid = [JSON.stringify({ model: 'stories', prompt: 'Once', max_tokens: 2 }), JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })];
    const bodies = [];
    for (let i = 0; i < 120; i++) { // truncated valid bodies
      const v = pick(valid);
      bodies.push([i % 2 ? '/v1/completions' : '/v1/chat/completions', v.slice(0, Math.floor(rnd() * (v.length - 1)))]);
    }
    for (let i = 0; i < 150; i++) { // one field of a valid body replaced by a wrong value
      const chat = rnd() < 0.5;
      const b = chat ? { model: 'stories', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 } : { model: 'stories', prompt: 'Once', max_tokens: 2 };
      b[pick(fields)] = pick(values);
      b[pick(fields)] = pick(values);
      bodies.push([chat ? '/v1/chat/completions' : '/v1/completions', JSON.stringify(b)]);
    }
    for (let i = 0; i < 40; i++) bodies.push(['/v1/completions', Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => Math.floor(rnd() * 256))).toString('latin1')]);
    const statuses = new Map();
    let ok = 0;
    for (let i = 0; i < bodies.length; i += 10) {
      const batch = bodies.slice(i, i + 10).map(([path, body]) => raw(S.url, { path, body }));
      for (const r of await Promise.all(batch)) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) { ok++; continue; } // a replacement can be valid (e.g. n: 1)
        assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${r.body.slice(0, 200)}`);
        const e = JSON.parse(r.body).error;
        assert.equal(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
        assert.type(e.message, 'string');
      }
    }
    console.log(`  ${bodies.length} fuzzed bodies: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(bodies.length >= 300 && ok < bodies.length / 4);
    assert.ok(await until(() => engine.running === 0 && engine.queued === 0), 'no leaked slot');
    const h = await raw(S.url, { method: 'GET', path: '/health' });
    assert.is(h.status, 200);
    const r = await S.client.completions.create({ model: 'stories', prompt: 'Once', max_tokens: 3, temperature: 0 });
    assert.is(r.usage.completion_tokens, 3);
  } finally {
    await S.close();
  }
});

test('graceful shutdown: in-flight requests finish, new connections are refused', async () => {
  if (skip) return;
  const S = await start();
  const engine = S.srv.handler.engines.get('stories');
  const inflight = S.client.completions.create({ model: 'stories', prompt: PROMPTS[0], max_tokens: 60, temperature: 0 });
  assert.ok(await until(() => engine.running === 1));
  await S.srv.shutdown(10_000);
  const r = await inflight;
  assert.is(r.usage.completion_tokens > 0, true);
  const after = await raw(S.url, { method: 'GET', path: '/health' }).then(() => null, (e) => e);
  assert.ok(after && /ECONNREFUSED/.test(after.code ?? after.message), String(after));
});

test('autocontrast serve: listens on loopback, answers, exits 0 on SIGTERM', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--model', `stories=${dir}`, '--port', '0', '--max-batch', '4'], { cwd: new URL('../../', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', errText = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (errText += c));
  const exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
  try {
    assert.ok(await until(() => /http:\/\/127\.0\.0\.1:\d+\/v1/.test(out), 30_000), `no listening line: ${out} ${errText}`);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(out)[0];
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const pending = client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 30, temperature: 0 });
    await new Promise((r) => setTimeout(r, 30));
    child.kill('SIGTERM');
    const r = await pending;
    assert.ok(r.choices[0].text.length > 0);
    const { code, sig } = await exited;
    assert.is(code, 0, `exit ${code} ${sig}: ${errText}`);
    assert.match(out, /SIGTERM: stopping/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test.run();
