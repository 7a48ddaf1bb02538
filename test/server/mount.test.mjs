// The handler mounted the way frameworks mount middleware: under a prefix (the framework strips it from
// req.url), after a body parser that already set req.body, with `next` taking what is not the API's.
import http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import OpenAI from 'openai';
import { raw, server, skipReason, stories } from './helpers.mjs';

const skip = await skipReason();
if (skip) console.log(`skipped: ${skip}`);

test('mounted under /llm after a JSON body parser, with next for other paths', async () => {
  if (skip) return;
  const handler = server.createHandler({ models: { stories: await stories() }, defaults: { contrast: false } });
  let parsed = 0;
  const app = http.createServer((req, res) => {
    const next = () => {
      res.writeHead(418, { 'content-type': 'text/plain' });
      res.end('not the API');
    };
    if (!req.url.startsWith('/llm/')) return next();
    req.url = req.url.slice('/llm'.length); // what Express does for app.use('/llm', handler)
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (chunks.length) {
        req.body = JSON.parse(Buffer.concat(chunks).toString('utf8')); // what express.json() does
        parsed++;
      }
      handler(req, res, next);
    });
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${app.address().port}`;
  try {
    const client = new OpenAI({ baseURL: `${url}/llm/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
    assert.is(r.usage.completion_tokens, 6);
    assert.is(parsed, 1, 'the pre-parsed body was used');
    const other = await raw(url, { method: 'GET', path: '/llm/elsewhere' });
    assert.is(other.status, 418);
    assert.is(other.body, 'not the API');
    const models = await client.models.list();
    assert.equal(models.data.map((m) => m.id), ['stories']);
  } finally {
    await handler.close(1000);
    await new Promise((r) => app.close(r));
  }
});

test('several models under names: each listed and answering under its own name', async () => {
  if (skip) return;
  const m = await stories();
  const handler = server.createHandler({ models: { first: m, second: m } });
  const app = http.createServer(handler);
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${app.address().port}`;
  try {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    assert.equal((await client.models.list()).data.map((x) => x.id), ['first', 'second']);
    const [a, b] = await Promise.all(['first', 'second'].map((model) => client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0 })));
    assert.is(a.model, 'first');
    assert.is(b.model, 'second');
    assert.is(a.choices[0].text, b.choices[0].text);
    assert.equal([...handler.engines.keys()], ['first', 'second']);
  } finally {
    await handler.close(1000);
    await new Promise((r) => app.close(r));
  }
});

test('createServer listens on loopback when no host is named', async () => {
  if (skip) return;
  const srv = server.createServer({ models: { stories: await stories() } });
  await new Promise((r) => srv.listen(0, r));
  try {
    assert.is(srv.address().address, '127.0.0.1');
  } finally {
    await srv.shutdown(1000);
  }
});

test('createHandler refuses bad options with clear errors', () => {
  assert.throws(() => server.createHandler({ models: {} }), /at least one model/);
  assert.throws(() => server.createHandler({ models: { x: {} } }), /not a model from load/);
  assert.throws(() => server.createHandler(null), /expects \{ models/);
});

test.run();
