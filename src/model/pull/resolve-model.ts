/**
 * `resolveModel(nameOrPath)`: a model folder path, or the name of a pulled model in the cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE } from '../manifest/manifest-types';
import { cachedModelDir } from './cache-dir';
import { PullError } from './pull-error';
import { isHubRepoName } from './hub';
import { PACKAGED_MODELS } from './pypi';

/**
 * The absolute model folder for `nameOrPath`: an existing folder holding `autocontrast.json`,
 * else a pulled model of that name (`smollm2-135m`, `ORG/NAME` after `pull --hub`).
 * @throws {PullError} when neither exists, saying what would work (see {@link missingModelHint}).
 */
export function resolveModel(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const asPath = path.resolve(nameOrPath);
  if (fs.existsSync(path.join(asPath, MANIFEST_FILE))) return asPath;
  const cached = cachedModelDir(nameOrPath, env);
  if (fs.existsSync(path.join(cached, MANIFEST_FILE))) return cached;
  if (fs.existsSync(asPath) && fs.statSync(asPath).isDirectory()) {
    throw new PullError(`${asPath} is not a model folder (no ${MANIFEST_FILE}); convert a checkpoint with: autocontrast convert <file.gguf | hf-folder> --out DIR`);
  }
  throw new PullError(`no model folder "${nameOrPath}" and no pulled model of that name (${missingModelHint(nameOrPath)})`);
}

/**
 * What to do about a name or path that is neither a model folder nor pulled. Only commands that can work are
 * suggested: `pull NAME` for a name `pull` knows, `pull --hub ORG/NAME` for a Hub-style name; a path gets no
 * pull at all.
 */
export function missingModelHint(nameOrPath: string): string {
  const known = Object.keys(PACKAGED_MODELS);
  if (known.includes(nameOrPath)) return `pull it with: autocontrast pull ${nameOrPath}`;
  const convert = 'convert a checkpoint with: autocontrast convert <file.gguf | hf-folder> --out DIR';
  if (isHubRepoName(nameOrPath) && !nameOrPath.startsWith('.') && !fs.existsSync(path.dirname(path.resolve(nameOrPath)))) {
    return `if it is a Hugging Face repository, pull it with: autocontrast pull --hub ${nameOrPath}`;
  }
  if (path.isAbsolute(nameOrPath) || /^[.~]/.test(nameOrPath) || nameOrPath.includes(path.sep) || nameOrPath.includes('/')) {
    return `${path.resolve(nameOrPath)} does not exist; give a model folder, or ${convert}`;
  }
  return `names that pull knows: ${known.join(', ')}; or pull --hub ORG/NAME; or ${convert}`;
}
