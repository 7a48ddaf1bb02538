/**
 * Finds and loads the native addon, without any install script: a local build first (developers), then the
 * prebuilt binary shipped in the package (`prebuilds/<platform>-<arch>/autocontrast.node`). When none loads,
 * the library runs the TypeScript fallback and warns once, saying what was tried.
 */
import { envValue } from '../config/env';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { NativeAddon } from './addon';

export type { NativeAddon } from './addon';

const EXPECTED_ABI = 1;

/** The package root (dist/kernel/ -> ../..). */
export const packageRoot = join(__dirname, '..', '..');

/** Where the addon is looked for, in order. */
export function candidatePaths(): string[] {
  const list: string[] = [];
  const own = envValue('AUTOCONTRAST_NATIVE_PATH');
  if (own) list.push(own);
  list.push(join(packageRoot, 'build', 'Release', 'autocontrast.node'));
  list.push(join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'autocontrast.node'));
  return list;
}

let cached: { addon: NativeAddon | null; errors: string[]; path?: string } | undefined;
let warned = false;

/** Loads the addon once; returns null (and records why) when none loads or AUTOCONTRAST_BACKEND=js. */
export function loadNative(): NativeAddon | null {
  if (cached) return cached.addon;
  const errors: string[] = [];
  if (envValue('AUTOCONTRAST_BACKEND') === 'js') {
    cached = { addon: null, errors: ['AUTOCONTRAST_BACKEND=js'] };
    return null;
  }
  for (const p of candidatePaths()) {
    if (!existsSync(p)) {
      errors.push(`${p}: not found`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const addon = require(p) as NativeAddon;
      if (addon.abiVersion !== EXPECTED_ABI) {
        errors.push(`${p}: built for ABI ${addon.abiVersion}, this code expects ${EXPECTED_ABI} (rebuild it)`);
        continue;
      }
      cached = { addon, errors, path: p };
      return addon;
    } catch (e) {
      errors.push(`${p}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  cached = { addon: null, errors };
  if (!warned) {
    warned = true;
    process.emitWarning(
      `autocontrast: no native addon loaded, using the TypeScript fallback (slower). Tried:\n  ${errors.join('\n  ')}\n` +
        'Build it with `npm run build:native` (needs cmake and a C++17 compiler), or install a package with prebuilt binaries.',
      { code: 'AUTOCONTRAST_NO_NATIVE' },
    );
  }
  return null;
}

/** Where the loaded addon came from, and what failed before it (diagnostics). */
export function nativeInfo(): { path?: string; errors: string[] } {
  loadNative();
  return { path: cached?.path, errors: cached?.errors ?? [] };
}
