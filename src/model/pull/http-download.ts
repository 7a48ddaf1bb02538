/**
 * Resumable HTTP(S) downloads: into `{dest}.part` with `Range` requests after an interruption,
 * redirects followed, size and optional sha256 checks, then an atomic rename to `dest`.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { PullError } from './pull-error';

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Extra request headers (e.g. authorization), sent to the first host only. */
  readonly headers?: Record<string, string>;
  /** Expected size in bytes, checked at the end. */
  readonly size?: number;
  /** Expected lowercase hex sha256, checked at the end. */
  readonly sha256?: string;
  /** Attempts in all, resuming each time (default 4). */
  readonly attempts?: number;
  /** Progress (bytes done, total or 0). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Opens a GET request, following up to 5 redirects; resolves with a response of status < 300 or 416. */
export function httpGet(url: string, headers: Record<string, string> = {}, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) return reject(new PullError(`unsupported URL ${url}`));
    const req = mod.get(u, { headers: { 'user-agent': 'autocontrast', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) return reject(new PullError(`too many redirects at ${url}`));
        const next = new URL(res.headers.location, u);
        const keep = next.host === u.host ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
        httpGet(next.toString(), keep, redirects - 1).then(resolve, reject);
        return;
      }
      if (status >= 400 && status !== 416) {
        res.resume();
        const why = status === 401 || status === 403 ? ' (private or gated: set HF_TOKEN)' : status === 404 ? ' (not found)' : '';
        return reject(new PullError(`HTTP ${status} for ${url}${why}`));
      }
      resolve(res);
    });
    req.on('error', (e) => reject(new PullError(`cannot reach ${u.origin}: ${(e as Error).message} (offline?)`)));
  });
}

/** Fetches a small JSON document. */
export async function httpJson(url: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await httpGet(url, headers);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new PullError(`${url}: response is not JSON`);
  }
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

function partSize(part: string): number {
  try {
    return fs.statSync(part).size;
  } catch {
    return 0;
  }
}

async function attempt(url: string, part: string, o: DownloadOptions): Promise<void> {
  const have = partSize(part);
  if (o.size !== undefined && have === o.size) return;
  const headers = { ...(o.headers ?? {}), ...(have > 0 ? { range: `bytes=${have}-` } : {}) };
  const res = await httpGet(url, headers);
  let start = 0;
  if (res.statusCode === 206) {
    const m = /bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    start = m ? Number(m[1]) : -1;
    if (start !== have) {
      res.resume();
      fs.rmSync(part, { force: true });
      throw new PullError(`${url}: server resumed at byte ${start}, expected ${have}`);
    }
  } else if (res.statusCode === 416) {
    res.resume();
    fs.rmSync(part, { force: true });
    throw new PullError(`${url}: range not satisfiable; restarting`);
  }
  const length = Number(res.headers['content-length'] ?? 0);
  const total = o.size ?? (length ? start + length : 0);
  let done = start;
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      done += chunk.length;
      o.onProgress?.(done, total);
      cb(null, chunk);
    },
  });
  await pipeline(res, counter, fs.createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }));
  if (length && done !== start + length) throw new PullError(`${url}: connection closed after ${done} bytes`);
}

/**
 * Downloads `url` to `dest`, resuming a previous `.part` file and retrying interrupted
 * transfers. The file appears at `dest` only when complete and checked.
 * @throws {PullError} on HTTP errors, when offline, or when the size or checksum is wrong.
 */
export async function downloadFile(url: string, dest: string, o: DownloadOptions = {}): Promise<void> {
  const part = `${dest}.part`;
  const attempts = o.attempts ?? 4;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      await attempt(url, part, o);
      last = undefined;
      break;
    } catch (e) {
      last = e;
      if (e instanceof PullError && /^HTTP 4\d\d/.test(e.message)) throw e;
    }
  }
  if (last) throw last instanceof PullError ? last : new PullError(`${url}: download failed (${(last as Error).message})`);
  const size = partSize(part);
  if (o.size !== undefined && size !== o.size) {
    fs.rmSync(part, { force: true });
    throw new PullError(`${url}: got ${size} bytes, expected ${o.size}`);
  }
  if (o.sha256) {
    const got = await sha256Of(part);
    if (got !== o.sha256.toLowerCase()) {
      fs.rmSync(part, { force: true });
      throw new PullError(`${url}: sha256 ${got} does not match the listed ${o.sha256}`);
    }
  }
  fs.renameSync(part, dest);
}
