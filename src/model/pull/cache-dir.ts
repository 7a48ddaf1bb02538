/**
 * The per-user cache directory of pulled models: `$AUTOCONTRAST_CACHE`, else
 * `$XDG_CACHE_HOME/autocontrast`, else `~/.cache/autocontrast`.
 */
import { envValue } from '../../config/env';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleScratch } from '../scratch/scratch-paths';

/** The cache root (not created). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = envValue('AUTOCONTRAST_CACHE', env);
  if (own) return path.resolve(own);
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, 'autocontrast');
  return path.join(os.homedir(), '.cache', 'autocontrast');
}

/** Folder of the converted model named `name` (`models/{name}`; `ORG/NAME` becomes `ORG--NAME`). */
export function cachedModelDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'models', name.replace(/\//g, '--'));
}

/** Folder for downloads in progress and downloaded sources. */
export function downloadsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'downloads');
}

/**
 * Removes what interrupted pulls and conversions of earlier processes left in the cache: entries of `downloads/`
 * and `models/` with a scratch name whose process no longer runs (see scratch-paths). Hub downloads
 * (`downloads/hub/`, with their resumable `.part` files) are not scratch and stay. Returns the names removed.
 */
export function removeStalePulls(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...removeStaleScratch(downloadsDir(env)), ...removeStaleScratch(path.join(cacheDir(env), 'models'))];
}
