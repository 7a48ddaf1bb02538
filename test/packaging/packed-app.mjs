// The packed tarball installed into a fresh consumer project the way the README tells users to, shared by the
// packaging tests (packed and installed once per process).
//
// No network and no warm npm cache: the install runs `--offline` with a cache folder of its own that starts
// empty, and the package's runtime dependencies come from tarballs made here out of this repository's own
// node_modules (the exact versions package-lock.json pins). The consumer keeps onnxruntime-node's install
// script off as the README says (a `.npmrc` line), with no environment variable.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/lib.mjs';

export const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
export const work = mkdtempSync(join(tmpdir(), 'autocontrast-pack-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The environment of every npm call here: without onnxruntime-node's install variables, whatever the caller set. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const k of Object.keys(env)) if (/^(ONNXRUNTIME_NODE_INSTALL|npm_config_onnxruntime)/i.test(k)) delete env[k];
  return env;
}

let packed;
/** `npm pack` of the repository (runs `prepack`: the build and the prebuild copy); npm's JSON report. */
export function packRepo() {
  if (packed) return packed;
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', work], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  // Lifecycle scripts (the build) print to stdout before npm's JSON report.
  const info = JSON.parse(out.slice(out.search(/^\[\s*\{/m)))[0];
  packed = { info, tarball: join(work, info.filename) };
  return packed;
}

/** The runtime dependency closure pinned by package-lock.json: [{ name, version, dir }]. */
export function runtimeDeps() {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
  return Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev && !v.devOptional && !k.includes('/node_modules/', 'node_modules/'.length))
    .map(([k, v]) => ({ name: k.slice('node_modules/'.length), version: v.version, dir: join(repoRoot, k) }));
}

let app;
/**
 * A fresh project with the packed tarball installed (offline, empty cache, no --ignore-scripts); returns
 * { app, cache, npmOutput }.
 */
export function installedApp() {
  if (app) return app;
  const { tarball } = packRepo();
  const deps = join(work, 'deps');
  mkdirSync(deps, { recursive: true });
  const specs = [];
  for (const d of runtimeDeps()) {
    if (!existsSync(join(d.dir, 'package.json'))) throw new Error(`${d.dir} is missing: run npm ci first`);
    // A plain tar with npm's `package/` prefix: pacote reads it like a registry tarball. No compression: the
    // onnxruntime-node folder is ~290 MB and gzip would cost more time than the copy.
    const file = join(deps, `${d.name.replace('/', '-')}-${d.version}.tar`);
    execFileSync('tar', ['-cf', file, '--exclude=./node_modules', '--transform', 's,^\\.,package,', '-C', d.dir, '.']);
    specs.push(file);
  }
  const dir = join(work, 'app');
  mkdirSync(dir, { recursive: true });
  const pkg = { name: 'app', version: '1.0.0', private: true };
  // The README's advice for a project that installs autocontrast, in the form that works with npm 10 and 11
  // alike. (The other form, "allowScripts": { "onnxruntime-node": false }, matches registry packages by name;
  // npm matches these local tarballs by path instead, so it cannot be exercised offline.)
  writeFileSync(join(dir, '.npmrc'), 'onnxruntime-node-install=skip\n');
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  const cache = join(work, 'npm-cache');
  mkdirSync(cache);
  const npmOutput = execFileSync(npm, ['install', tarball, ...specs, '--offline', '--cache', cache, '--no-audit', '--no-fund'], {
    cwd: dir,
    encoding: 'utf8',
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  app = { app: dir, cache, npmOutput };
  return app;
}
