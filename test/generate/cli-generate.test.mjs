// The CLI's generate command on stories260K: --json, --compare, and user mistakes (one line, exit code 1).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../import/helpers.mjs';
import { runtimeSkip, storiesFolder } from './helpers.mjs';

const skip = runtimeSkip();
const cli = (args, env = {}) =>
  spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'generate', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });

test('generate --json prints one object with text, ids, log-probabilities and timings', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const r = cli(['--model', dir, '--prompt', 'Once upon a time', '--no-contrast', '--max-new-tokens', '20', '--json']);
  assert.is(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.ok(o.text.startsWith(', there was a little girl named Lily'), o.text);
  assert.is(o.tokens.length, o.logProbs.length);
  assert.is(o.contrast, null);
  assert.ok(o.timing.decodeMs > 0 && o.timing.tokensPerSecond > 0);
  const c = JSON.parse(cli(['--model', dir, '--prompt', 'Once upon a time', '--amateur-layer', '3', '--alpha', '0.2', '--json']).stdout);
  assert.equal(c.contrast, { layer: 3, mode: 'acd', alpha: 0.2, minCandidates: 1, path: 'sparse' });
  const t = cli(['--model', dir, '--prompt', 'Once upon a time', '--max-new-tokens', '10']);
  assert.is(t.status, 0, t.stderr);
  assert.ok(t.stdout.startsWith('Once upon a time'));
});

test('generate --compare prints the plain and the contrasted continuation, labelled', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const r = cli(['--model', dir, '--prompt', 'Once upon a time', '--compare', '--max-new-tokens', '24']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /--- plain \(layer 5\)/);
  assert.match(r.stdout, /--- contrasted \(acd, amateur layer 2, alpha 0.1, sparse\)/);
  console.log(r.stdout.split('\n').map((l) => `  ${l}`).join('\n'));
  const j = JSON.parse(cli(['--model', dir, '--prompt', 'Once upon a time', '--compare', '--json', '--strategy', 'top-k', '--seed', '3']).stdout);
  assert.ok(typeof j.plain.text === 'string' && typeof j.contrasted.text === 'string');
});

test('user mistakes: one line on stderr, exit code 1, no stack trace', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const cases = [
    [['--model', dir], /--prompt TEXT is required/],
    [['--model', dir, '--prompt', ''], /--prompt is empty/],
    [['--model', dir, '--prompt', 'Hi', '--strategy', 'nucleus'], /--strategy expects one of greedy, beam, top-k, top-p, sample, got "nucleus"/],
    [['--model', dir, '--prompt', 'Hi', '--amateur-layer', '9'], /out of range/],
    [['--model', dir, '--prompt', 'Hi', '--no-contrast', '--alpha', '0.3'], /--no-contrast contradicts --alpha/],
    [['--model', dir, '--prompt', 'Hi', '--max-new-tokens', 'many'], /expects an integer/],
    [['--model', dir, '--prompt', 'Hi', '--top-k', '5'], /--top-k is for --strategy top-k/],
    [['--model', dir, '--prompt', 'Hi', '--alpha', '7'], /--alpha expects a number in \[0, 1\], got 7/],
    [['--model', path.join(dir, 'nope'), '--prompt', 'Hi'], /no model folder/],
    [['--prompt', 'Hi', '--frobnicate'], /unknown option --frobnicate/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.not.match(r.stderr, /\n\s+at /);
  }
  const h = cli(['--help']);
  assert.is(h.status, 0);
  assert.match(h.stdout, /--compare/);
});

test.run();
