/**
 * `resolveModel(nameOrPath)`: a model folder path, or the name of a pulled model in the cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE } from '../manifest/manifest-types';
import { cachedModelDir } from './cache-dir';
import { PullError } from './pull-error';

/**
 * The absolute model folder for `nameOrPath`: an existing folder holding `autocontrast.json`,
 * else a pulled model of that name (`smollm2-135m`, `ORG/NAME` after `pull --hub`).
 * @throws {PullError} when neither exists, saying how to pull it.
 */
export function resolveModel(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const asPath = path.resolve(nameOrPath);
  if (fs.existsSync(path.join(asPath, MANIFEST_FILE))) return asPath;
  const cached = cachedModelDir(nameOrPath, env);
  if (fs.existsSync(path.join(cached, MANIFEST_FILE))) return cached;
  if (fs.existsSync(asPath) && fs.statSync(asPath).isDirectory()) {
    throw new PullError(`${asPath} is not a model folder (no ${MANIFEST_FILE}); convert a checkpoint with: autocontrast convert <file.gguf | hf-folder> --out DIR`);
  }
  const how = nameOrPath.includes('/') ? `autocontrast pull --hub ${nameOrPath}` : `autocontrast pull ${nameOrPath}`;
  throw new PullError(`no model folder "${nameOrPath}" and no pulled model of that name (pull it with: ${how})`);
}
