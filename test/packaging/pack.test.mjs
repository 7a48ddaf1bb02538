// `npm pack` produces a tarball with the prebuilt binary; installing it into an empty folder with
// --ignore-scripts and no network gives a package whose kernel runs natively, from require and import.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const work = mkdtempSync(join(tmpdir(), 'autocontrast-pack-'));
let tarball;

test('npm pack carries dist, types and the prebuilt binary, and nothing of the tests', () => {
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', work], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  // Lifecycle scripts (the build) print to stdout before npm's JSON report.
  const info = JSON.parse(out.slice(out.search(/^\[\s*\{/m)))[0];
  tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  const prebuilt = `prebuilds/${process.platform}-${process.arch}/autocontrast.node`;
  for (const f of [prebuilt, 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'package.json', 'README.md', 'CMakeLists.txt', 'binding.gyp'])
    assert.ok(files.includes(f), `tarball lacks ${f}`);
  assert.not.ok(files.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('build/')), 'tests, bench or build output packed');
  assert.ok(info.size < 20 * 1024 * 1024, `tarball is ${info.size} bytes`);
});

test('the tarball installs offline without scripts and runs the native kernel', () => {
  assert.ok(tarball && existsSync(tarball), 'tarball from the previous test');
  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  execFileSync(npm, ['install', tarball, '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pkgDir = join(app, 'node_modules', 'autocontrast');
  assert.ok(!existsSync(join(pkgDir, 'build')), 'no local build inside the installed package');
  const cjs = `const a = require('autocontrast');
const e = new Float32Array([Math.log(4), Math.log(2), 0, 0]), m = new Float32Array([Math.log(4), 0, 0, 0]);
const p = Array.from(a.acdLogProbs(e, m, { alpha: 0.3 }), Math.exp);
console.log(JSON.stringify({ backend: a.backend(), path: a.nativeInfo().path, p }));`;
  const r = JSON.parse(execFileSync(process.execPath, ['-e', cjs], { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
  assert.ok(r.backend.startsWith('native-'), `backend ${r.backend}`);
  assert.ok(r.path.startsWith(join(pkgDir, 'prebuilds')), `loaded from ${r.path}`);
  const want = [0.25, 0.5, 0.125, 0.125];
  want.forEach((w, i) => assert.ok(Math.abs(r.p[i] - w) < 1e-6, `p[${i}] = ${r.p[i]}`));
  const esm = `import { backend, acdLogProbs } from 'autocontrast'; console.log(backend() + ' ' + String(acdLogProbs(new Float32Array([1, 2]), new Float32Array([0, 0])).length));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', esm], { cwd: app, encoding: 'utf8' }).trim();
  assert.match(out, /^native-\w+ 2$/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
