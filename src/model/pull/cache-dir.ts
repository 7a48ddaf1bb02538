/**
 * The per-user cache directory of pulled models: `$AUTOCONTRAST_CACHE`, else
 * `$XDG_CACHE_HOME/autocontrast`, else `~/.cache/autocontrast`.
 */
import * as os from 'node:os';
import * as path from 'node:path';

/** The cache root (not created). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AUTOCONTRAST_CACHE) return path.resolve(env.AUTOCONTRAST_CACHE);
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
