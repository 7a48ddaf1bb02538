// Shared helpers of the server tests: a server on a free 127.0.0.1 port over stories260K (converted once), the
// official openai client pointed at it, and raw HTTP for what the client does not send.
import http from 'node:http';
import OpenAI from 'openai';

import serverPkg from 'autocontrast/server';
import { gen, runtimeSkip, storiesFolder } from '../generate/helpers.mjs';

export { gen };
export const server = serverPkg;

/** Why the server tests cannot run here (printed), or null. */
export async function skipReason() {
  const why = runtimeSkip();
  if (why) return why;
  const dir = await storiesFolder();
  if (!dir) return 'no ../shared/data (stories260K)';
  return null;
}

let model = null;
/** stories260K loaded once. */
export async function stories() {
  model ??= await gen.load(await storiesFolder());
  return model;
}

/** Starts a server on 127.0.0.1 with port 0 (a free port); returns { srv, url, client, close }. */
export async function start(options = {}) {
  const m = await stories();
  const srv = server.createServer({ models: { stories: m }, ...options });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });
  return { srv, url, client, close: () => srv.shutdown(2000) };
}

/** A raw request: resolves { status, headers, body (text) }. */
export function raw(url, { method = 'POST', path = '/v1/completions', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = http.request(u, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
