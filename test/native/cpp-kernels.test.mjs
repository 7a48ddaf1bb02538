// Builds the C++ kernel test binary with plain CMake (no Node.js inside it) and runs it: every SIMD path
// against the scalar one and a float64 implementation, edge cases, threads (native/test/).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';

function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

test('C++ kernel tests pass', () => {
  if (!have('cmake')) {
    console.log('  skipped: cmake not found (needed to build native/test)');
    return;
  }
  const dir = join(repoRoot, 'build', 'cc');
  execFileSync('cmake', ['-S', repoRoot, '-B', dir, '-DAUTOCONTRAST_CUDA=OFF', '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'pipe' });
  execFileSync('cmake', ['--build', dir, '--target', 'ac_kernel_tests', '-j', '2'], { stdio: 'pipe' });
  const r = spawnSync(join(dir, 'ac_kernel_tests'), [], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = (r.stdout ?? '').trim().split('\n');
  for (const l of lines) if (/SKIP|FAIL/.test(l)) console.log(`  ${l}`);
  const last = lines[lines.length - 1] ?? '';
  const m = /^(\d+) passed, (\d+) failed/.exec(last);
  assert.ok(m, `unexpected last line: ${last}\n${r.stderr}`);
  assert.is(Number(m[2]), 0, `${last}`);
  assert.ok(Number(m[1]) > 0);
  assert.is(r.status, 0);
});

test.run();
