/**
 * `pull --hub ORG/NAME`: downloads a Hugging Face checkpoint over the Hub's HTTP layout
 * (`{endpoint}/api/models/{repo}` for the file list, `{endpoint}/{repo}/resolve/{revision}/{file}`
 * for files), resumably, then converts it into the cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convert } from '../convert/convert';
import { MANIFEST_FILE } from '../manifest/manifest-types';
import { cachedModelDir, downloadsDir, removeStalePulls } from './cache-dir';
import { downloadFile, httpJson } from './http-download';
import type { PullProgressListener } from './progress';
import { PullError } from './pull-error';

/** Options of {@link pullHub}. */
export interface PullHubOptions {
  /** Git revision (default `main`). */
  readonly revision?: string;
  /** Hub endpoint (default `$HF_ENDPOINT` or https://huggingface.co). */
  readonly endpoint?: string;
  /** Access token (default `$HF_TOKEN`). */
  readonly token?: string;
  /** Exit layers for the conversion (default: the checkpoint's heads, else every layer). */
  readonly exits?: readonly number[] | string;
  /** Convert again even when the model is cached. */
  readonly force?: boolean;
  /** Environment (cache location, HF_* variables); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Progress listener. */
  readonly onProgress?: PullProgressListener;
}

/** Where a pull left its model. */
export interface PullResult {
  /** The model folder. */
  readonly dir: string;
  /** True when it was already in the cache (nothing done). */
  readonly cached: boolean;
}

interface Sibling {
  readonly rfilename: string;
  readonly size?: number;
  readonly lfs?: { readonly sha256?: string; readonly size?: number };
}

const WANTED = new Set([
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'vocab.json', 'merges.txt', 'model.safetensors.index.json',
]);

/** A Hugging Face repository name as `pull --hub` takes it: `ORG/NAME`, neither part `.` or `..`. */
export function isHubRepoName(s: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(s) && !s.split('/').some((part) => part === '.' || part === '..');
}

/** Files of a repository listing that a conversion needs. */
export function hubFilesToFetch(siblings: readonly Sibling[]): Sibling[] {
  return siblings.filter((s) => !s.rfilename.includes('/') && (WANTED.has(s.rfilename) || s.rfilename.endsWith('.safetensors')));
}

/**
 * Downloads `repo` (`ORG/NAME`) and converts it to `cachedModelDir(repo)`. A second call returns
 * the cached folder at once.
 * @throws {PullError} for bad names, HTTP errors, missing files, failed checks.
 */
export async function pullHub(repo: string, o: PullHubOptions = {}): Promise<PullResult> {
  const env = o.env ?? process.env;
  if (!isHubRepoName(repo)) throw new PullError(`"${repo}" is not a Hub repository name (expected ORG/NAME)`);
  const target = cachedModelDir(repo, env);
  if (!o.force && fs.existsSync(path.join(target, MANIFEST_FILE))) return { dir: target, cached: true };
  removeStalePulls(env);
  const endpoint = (o.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = o.token ?? env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const revision = o.revision ?? 'main';
  const apiUrl = `${endpoint}/api/models/${repo}${revision === 'main' ? '' : `/revision/${encodeURIComponent(revision)}`}?blobs=true`;
  const info = (await httpJson(apiUrl, headers)) as { siblings?: Sibling[] };
  if (!info || !Array.isArray(info.siblings)) throw new PullError(`${apiUrl}: no file list (siblings) in the response`);
  const files = hubFilesToFetch(info.siblings);
  if (!files.some((f) => f.rfilename === 'config.json')) throw new PullError(`${repo} has no config.json`);
  if (!files.some((f) => f.rfilename.endsWith('.safetensors'))) {
    throw new PullError(`${repo} has no .safetensors weights (only safetensors checkpoints can be converted)`);
  }
  const src = path.join(downloadsDir(env), 'hub', repo.replace('/', '--'));
  fs.mkdirSync(src, { recursive: true });
  const total = files.reduce((s, f) => s + (f.lfs?.size ?? f.size ?? 0), 0);
  let before = 0;
  for (const f of files) {
    const dest = path.join(src, f.rfilename);
    const size = f.lfs?.size ?? f.size;
    if (fs.existsSync(dest) && (size === undefined || fs.statSync(dest).size === size)) {
      before += size ?? 0;
      continue;
    }
    const url = `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${f.rfilename}`;
    const base = before;
    await downloadFile(url, dest, {
      headers,
      size,
      sha256: f.lfs?.sha256,
      onProgress: (done) => o.onProgress?.({ phase: 'download', file: f.rfilename, done: base + done, total }),
    });
    before += size ?? fs.statSync(dest).size;
  }
  await convert(src, {
    out: target,
    exits: o.exits,
    overwrite: true,
    onProgress: (done, all) => o.onProgress?.({ phase: 'convert', done, total: all }),
  });
  return { dir: target, cached: false };
}
