// The package entry's declarations compile for a TypeScript user (strict, skipLibCheck false): the fixture
// uses load/generate/stream/score, generateTokens, the configuration, the errors and a kernel, and expects
// two mistakes (a misspelt option, an unknown strategy) to be compile errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';

test('the public API type-checks from its declarations', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-types-'));
  try {
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'ES2022',
        module: 'commonjs',
        moduleResolution: 'node10',
        lib: ['ES2022'],
        types: ['node'],
        typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
        baseUrl: dir,
        paths: { autocontrast: [path.join(repoRoot, 'dist', 'index.d.ts')] },
      },
      files: [path.join(repoRoot, 'test', 'unit', 'fixtures', 'public-api.ts')],
    }));
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stdout + r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the entry exports the public API only; layer internals are behind named subpaths', async () => {
  // Self-reference through package.json `exports`, as a user's import resolves it.
  const entry = await import('autocontrast');
  const names = Object.keys(entry).filter((n) => n !== 'default');
  for (const n of ['load', 'generate', 'stream', 'score', 'generateTokens', 'acdLogProbs', 'convert', 'pullPackaged', 'AutocontrastError', 'GENERATION_OPTIONS', 'runtime']) {
    assert.ok(names.includes(n), `${n} is public`);
  }
  for (const n of ['tinyDecoderWeights', 'GraphBuilder', 'parseGgufHeader', 'httpGet', 'RuntimeSession', 'readOnnxGraph', 'mulberry32']) {
    assert.not.ok(names.includes(n), `${n} is internal`);
  }
  assert.ok(names.length < 100, `${names.length} names in the entry`);
  const graph = await import('autocontrast/graph');
  assert.type(graph.tinyDecoderWeights, 'function');
  const gguf = await import('autocontrast/gguf');
  assert.type(gguf.parseGgufHeader, 'function');
  const decoding = await import('autocontrast/decoding');
  assert.type(decoding.contrastStep, 'function');
});

test.run();
