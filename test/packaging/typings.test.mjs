// The shipped declarations compile in consumer projects with `skipLibCheck: false` (every .d.ts checked):
// module/moduleResolution node16, nodenext and bundler, ESM and CommonJS consumers, with and without the DOM
// lib, against the packed tarball installed as a user installs it (see packed-app.mjs). The consumer code is the
// README's TypeScript usage; a deliberate type error must still be reported (the check is not vacuous).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';
import { installedApp } from './packed-app.mjs';

const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

const USAGE = `
const model = await load('smollm2-135m');
const r = await generate(model, 'The capital of France is', { maxNewTokens: 32 });
const text: string = r.text;
const tps: number = r.timing.tokensPerSecond;
await generate(model, 'x', { amateurLayer: 10, alpha: 0.1, strategy: 'top-p', topP: 0.9, seed: 1 });
await generate(model, 'x', { contrast: false });
for await (const chunk of stream(model, 'x', { signal: AbortSignal.timeout(5000) })) process.stdout.write(chunk);
const s = await score(model, 'Some text.', { contrast: true });
const logp: Float32Array = acdLogProbs(new Float32Array(4), new Float32Array(4), { alpha: 0.1 });
const c = contrast(new Float32Array(8), new Float32Array(8), { vocabSize: 4, mode: 'acd' });
const b: string = backend();
const dir: string = resolveModel('smollm2-135m');
export const used = [text, tps, s, logp, c.headSize, b, dir];
`;
const IMPORTS = "{ load, generate, stream, score, acdLogProbs, contrast, backend, resolveModel }";

const ESM = `import ${IMPORTS} from 'autocontrast';\n${USAGE}`;
// CommonJS has no top-level await: the same calls inside an async function.
const CJS = `import ${IMPORTS} from 'autocontrast';\nexport async function main() {${USAGE.replace('export const used =', 'return')}}\n`;
const REQUIRE = `import ac = require('autocontrast');\nconst ${IMPORTS} = ac;\nexport async function main() {${USAGE.replace('export const used =', 'return')}}\n`;
const NO_DOM = ['ES2022'];
const DOM = ['ES2022', 'DOM'];

/** Consumer projects: [name, compilerOptions, package.json type, file name, source]. */
const VARIANTS = [
  ['node16 esm', { module: 'node16', moduleResolution: 'node16', lib: NO_DOM }, 'module', 'index.ts', ESM],
  ['node16 cjs', { module: 'node16', moduleResolution: 'node16', lib: NO_DOM }, 'commonjs', 'index.ts', CJS],
  ['nodenext esm', { module: 'nodenext', moduleResolution: 'nodenext', lib: NO_DOM }, 'module', 'index.ts', ESM],
  ['nodenext cjs', { module: 'nodenext', moduleResolution: 'nodenext', lib: NO_DOM }, 'commonjs', 'index.ts', CJS],
  ['bundler esm', { module: 'esnext', moduleResolution: 'bundler', lib: NO_DOM }, 'module', 'index.ts', ESM],
  ['bundler esm +DOM', { module: 'esnext', moduleResolution: 'bundler', lib: DOM }, 'module', 'index.ts', ESM],
  ['bundler cjs (module preserve, require)', { module: 'preserve', moduleResolution: 'bundler', lib: NO_DOM }, 'commonjs', 'index.cts', REQUIRE],
];

function compile(app, name, options, type, file, source) {
  const dir = join(app, 'consumers', name.replace(/[^\w]+/g, '-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], ...options },
    files: [file],
  }));
  writeFileSync(join(dir, file), source);
  return spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
}

let app;
test.before(() => {
  ({ app } = installedApp());
  // A TypeScript consumer has @types/node; this one borrows the repository's (no network here).
  const types = join(app, 'node_modules', '@types');
  mkdirSync(types, { recursive: true });
  if (!existsSync(join(types, 'node'))) symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(types, 'node'), 'dir');
});

for (const [name, options, type, file, source] of VARIANTS) {
  test(`declarations compile with skipLibCheck false: ${name}`, () => {
    const r = compile(app, name, options, type, file, source);
    assert.is(r.status, 0, `${name}:\n${r.stdout}${r.stderr}`);
  });
}

test('the check is not vacuous: a wrong option type is reported', () => {
  const r = compile(app, 'negative', { module: 'node16', moduleResolution: 'node16', lib: ['ES2022'] }, 'module', 'index.ts',
    `import { acdLogProbs } from 'autocontrast';\nacdLogProbs(new Float32Array(1), new Float32Array(1), { alpha: 'high' });\n`);
  assert.is.not(r.status, 0);
  assert.match(r.stdout, /index\.ts\(2,\d+\): error TS2322/);
});

test.run();
