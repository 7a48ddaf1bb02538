// binding.gyp still builds a working addon with node-gyp (in a scratch copy, so build/ is not touched).
// node-gyp downloads Node's headers unless they are on the machine: when neither the headers nor npm's
// bundled node-gyp are found the test says so and is skipped.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => existsSync(p));
}

function findHeaders() {
  const prefix = dirname(dirname(process.execPath));
  return [join(prefix, 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((p) => existsSync(join(p, 'node_api.h')) && existsSync(join(p, 'common.gypi')));
}

test('node-gyp builds binding.gyp into a loadable addon', () => {
  const gyp = findNodeGyp(), headers = findHeaders();
  if (!gyp || !headers) {
    console.log(`  skipped: ${!gyp ? "npm's bundled node-gyp not found" : "Node's headers (node_api.h, common.gypi) not installed locally"}; node-gyp would download them`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'autocontrast-gyp-'));
  try {
    // A node-gyp "devdir" made of the local headers, so nothing is downloaded.
    const dev = join(work, 'devdir', process.versions.node);
    mkdirSync(join(dev, 'include'), { recursive: true });
    symlinkSync(headers, join(dev, 'include', 'node'));
    symlinkSync(join(headers, 'common.gypi'), join(dev, 'common.gypi'));
    writeFileSync(join(dev, 'installVersion'), '11');
    const src = join(work, 'src');
    mkdirSync(src);
    for (const f of ['binding.gyp', 'package.json', 'native']) cpSync(join(repoRoot, f), join(src, f), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(src, 'node_modules'));
    execFileSync(process.execPath, [gyp, 'rebuild', `--devdir=${join(work, 'devdir')}`, '-j', '2'], { cwd: src, stdio: 'pipe' });
    const addon = createRequire(import.meta.url)(join(src, 'build', 'Release', 'autocontrast.node'));
    assert.ok(addon.isas().includes('scalar'));
    const out = addon.contrast({ expert: new Float32Array([0, 1]), amateur: new Float32Array([0, 0]), dtype: 0, rows: 1, vocab: 2, mode: 0, alpha: 0, minCandidates: 1, out: new Float32Array(2) });
    assert.ok(Math.abs(Math.exp(out[0]) + Math.exp(out[1]) - 1) < 1e-6);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
