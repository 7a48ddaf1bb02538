// The one generation configuration: defaults, bounds, rules between options, coded errors, the CLI naming,
// and the default alpha tied to the native one.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// Internal module (not part of the package's public surface): the configuration table and its resolve.
import config from 'autocontrast';
import { repoRoot } from '../helpers/lib.mjs';

const { GENERATION_OPTIONS, DEFAULT_ALPHA, resolveGeneration } = config;

const throws = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.unreachable('expected an error');
};

test('the default alpha is written once in TypeScript and once in C++, and they agree', () => {
  const header = fs.readFileSync(path.join(repoRoot, 'native', 'kernels', 'contrast.h'), 'utf8');
  const m = /float alpha = ([0-9.]+)f;/.exec(header);
  assert.ok(m, 'native/kernels/contrast.h declares `float alpha = <default>f;`');
  assert.is(Number(m[1]), DEFAULT_ALPHA);
  assert.is(GENERATION_OPTIONS.alpha.default, DEFAULT_ALPHA);
  const mc = /int32_t min_candidates = ([0-9]+);/.exec(header);
  assert.is(Number(mc[1]), GENERATION_OPTIONS.minCandidates.default);
  // No other TypeScript file writes the default alpha as a literal.
  const offenders = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(path.join('config', 'generation.ts'))) {
        const code = fs.readFileSync(p, 'utf8').split('\n').filter((l) => !/^\s*(\*|\/\/)/.test(l)).join('\n');
        if (/alpha\s*(\?\?|=|:)\s*0\.1\b/.test(code)) offenders.push(p);
      }
    }
  };
  walk(path.join(repoRoot, 'src'));
  assert.equal(offenders, []);
});

test('resolve fills every default from the table', () => {
  const r = resolveGeneration({});
  assert.is(r.strategy, 'greedy');
  assert.is(r.maxNewTokens, GENERATION_OPTIONS.maxNewTokens.default);
  assert.equal(r.contrast, { mode: 'acd', alpha: DEFAULT_ALPHA, minCandidates: 1, amateurPath: 'auto' });
  assert.is(r.numBeams, 1);
  assert.is(resolveGeneration({ strategy: 'beam' }).numBeams, 4);
  assert.is(resolveGeneration({ contrast: false }).contrast, null);
  assert.equal(resolveGeneration({ mode: 'cd', beta: 0.5 }).contrast.beta, 0.5);
});

test('errors carry codes and the option, and name it as the caller wrote it', () => {
  let e = throws(() => resolveGeneration({ alpha: 7 }));
  assert.instance(e, RangeError);
  assert.is(e.code, 'ERR_OUT_OF_RANGE');
  assert.is(e.option, 'alpha');
  assert.match(e.message, /Expected alpha to be a number in \[0, 1\] but received 7/);
  e = throws(() => resolveGeneration({ alpha: 7 }, 'cli'));
  assert.match(e.message, /^--alpha expects a number in \[0, 1\], got 7$/);
  e = throws(() => resolveGeneration({ maxNewTokens: 'many' }));
  assert.instance(e, TypeError);
  assert.is(e.code, 'ERR_INVALID_ARG_TYPE');
  e = throws(() => resolveGeneration({ maxNewTokens: 0 }, 'cli'));
  assert.match(e.message, /--max-new-tokens expects an integer >= 1, got 0/);
  assert.not.match(e.message, /9007199254740991/);
  e = throws(() => resolveGeneration({ topK: 5 }, 'cli'));
  assert.match(e.message, /--top-k is for --strategy top-k \(--strategy is greedy\)/);
  e = throws(() => resolveGeneration({ stopStrings: ['x'], strategy: 'beam' }, 'cli'));
  assert.match(e.message, /^--stop /);
  e = throws(() => resolveGeneration({ contrast: false, alpha: 0.2 }, 'cli'));
  assert.match(e.message, /--no-contrast contradicts --alpha/);
  e = throws(() => resolveGeneration({ amateurLayer: 4, expertLayer: 4 }, 'cli'));
  assert.match(e.message, /--amateur-layer 4 must be below --expert-layer 4/);
  e = throws(() => resolveGeneration({ beta: 1 }));
  assert.match(e.message, /beta is for mode 'cd'/);
  e = throws(() => resolveGeneration({ frobnicate: 1 }));
  assert.is(e.code, 'ERR_INVALID_ARG_TYPE');
  assert.match(e.message, /Unknown generation option 'frobnicate'/);
});

test('every option has a one-line meaning and, unless an object or function, a CLI flag', () => {
  for (const [k, d] of Object.entries(GENERATION_OPTIONS)) {
    assert.ok(d.doc && !d.doc.includes('\n'), k);
    assert.ok(d.cli, `${k} has a CLI form`);
  }
  const flags = Object.values(GENERATION_OPTIONS).map((d) => d.cli.flag);
  assert.is(new Set(flags).size, flags.length, 'flags are distinct');
  for (const f of ['beta', 'amateur-path', 'stop', 'max-new-tokens', 'no-contrast']) assert.ok(flags.includes(f), f);
});

test.run();
