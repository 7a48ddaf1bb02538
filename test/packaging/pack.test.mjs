// `npm pack` produces a tarball with the prebuilt binary; installing it into a fresh project, offline with an
// empty npm cache and install scripts on (onnxruntime-node's kept off by the consumer's .npmrc, as the README
// says), gives a package whose kernel runs natively, from require and import.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installedApp, packRepo } from './packed-app.mjs';

test('npm pack carries dist, types and the prebuilt binary, and nothing of the tests', () => {
  const { info } = packRepo();
  const files = info.files.map((f) => f.path);
  const prebuilt = `prebuilds/${process.platform}-${process.arch}/autocontrast.node`;
  for (const f of [prebuilt, 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'package.json', 'README.md', 'CMakeLists.txt', 'binding.gyp'])
    assert.ok(files.includes(f), `tarball lacks ${f}`);
  assert.not.ok(files.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('build/')), 'tests, bench or build output packed');
  assert.ok(info.size < 20 * 1024 * 1024, `tarball is ${info.size} bytes`);
});

test('the tarball installs offline from an empty npm cache, scripts on, and runs the native kernel', () => {
  const { app } = installedApp();
  const pkgDir = join(app, 'node_modules', 'autocontrast');
  assert.ok(!existsSync(join(pkgDir, 'build')), 'no local build inside the installed package');
  // onnxruntime-node's script would have fetched CUDA provider files into its bin folder (linux/x64).
  const ortBin = join(app, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  if (existsSync(ortBin)) {
    const cuda = readdirSync(ortBin).filter((f) => /providers_cuda|providers_tensorrt/.test(f));
    assert.equal(cuda, [], 'onnxruntime-node install script ran');
  }
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
  // The runtime's ONNX Runtime library came with the CPU package, without its install script.
  const ort = execFileSync(process.execPath, ['-e', "console.log(typeof require('onnxruntime-node').InferenceSession.create)"], { cwd: app, encoding: 'utf8' }).trim();
  assert.is(ort, 'function');
});

test.run();
