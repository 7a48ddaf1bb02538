// The CLI's generate command as a user runs it: text streamed to stdout as produced (plain first, then
// contrasted with --compare), notices and rates on stderr, Ctrl-C keeping the partial text (exit 130), every
// flag checked before the model loads with a message naming the flag, --version, --chat labels.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';
import { runtimeSkip, storiesFolder } from '../generate/helpers.mjs';

const skip = runtimeSkip();
const main = path.join(repoRoot, 'dist', 'cli', 'main.js');
const cli = (args) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('every flag is checked before the model loads: one line naming the flag', () => {
  // A model folder that does not exist: a check that waited for the load would report the folder instead, so the
  // message itself proves the order (no wall-clock bound: a busy machine would make one flaky).
  const missing = path.join(repoRoot, 'no-such-model-folder');
  const cases = [
    [['--alpha', '2'], /--alpha expects a number in \[0, 1\], got 2/],
    [['--max-new-tokens', '0'], /--max-new-tokens expects an integer >= 1, got 0/],
    [['--max-new-tokens', 'lots'], /--max-new-tokens expects an integer, got "lots"/],
    [['--strategy', 'top-p', '--top-p', '0'], /--top-p expects a number in \(0, 1\], got 0/],
    [['--temperature', '0.5'], /--temperature is for sampling strategies/],
    [['--strategy', 'beam', '--stop', 'x'], /--stop are not supported with beam search/],
    [['--amateur-layer', '4', '--expert-layer', '4'], /--amateur-layer 4 must be below --expert-layer 4/],
    [['--mode', 'acd', '--beta', '1'], /--beta is for --mode cd/],
    [['--no-contrast', '--amateur-path', 'dense'], /--no-contrast contradicts --amateur-path/],
    [['--min-candidates', '0'], /--min-candidates expects an integer >= 1, got 0/],
    [['--seed', '1.5', '--strategy', 'sample'], /--seed expects an integer, got "1.5"/],
    [['--num-beams', '2'], /--num-beams is for --strategy beam/],
  ];
  for (const [args, re] of cases) {
    const r = cli(['generate', '--model', missing, '--prompt', 'Hi', ...args]);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.not.match(r.stderr, /maxNewTokens|stopStrings|9007199254740991|\n\s+at /);
  }
});

test('serve takes its request defaults through the same flag table and checks', () => {
  const missing = path.join(repoRoot, 'no-such-model-folder');
  for (const [args, re] of [
    [['--alpha', '2'], /^autocontrast: serve: --alpha expects a number in \[0, 1\], got 2$/],
    [['--mode', 'dolla'], /^autocontrast: serve: --mode expects one of acd, cd, dola, got "dolla"$/],
    [['--dola-layers', 'high'], /^autocontrast: serve: --dola-layers is for --mode dola or --amateur-layer auto$/],
    [['--no-contrast', '--alpha', '0.2'], /^autocontrast: serve: --no-contrast contradicts --alpha$/],
  ]) {
    const r = cli(['serve', '--model', missing, ...args]);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
  }
  assert.match(cli(['serve', '--help']).stdout, /--min-candidates N\s+minimum head size/);
});

test('--version prints the package version; the help lists the generation flags from the configuration', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const v = cli(['--version']);
  assert.is(v.status, 0);
  assert.is(v.stdout.trim(), pkg.version);
  const h = cli(['generate', '--help']);
  for (const flag of ['--beta B', '--amateur-path P', '--min-new-tokens N', '--stop TEXT', '--no-contrast', '--alpha A']) assert.ok(h.stdout.includes(flag), flag);
  assert.match(h.stdout, /--max-new-tokens N\s+.*\(default 64\)/);
});

/** Runs the CLI, calling `onOut(stdoutSoFar, child)` on every stdout chunk; resolves with what it printed. */
function run(args, onOut = () => {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, 'generate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const events = [];
    child.stdout.on('data', (c) => {
      out += c;
      events.push(['out', String(c)]);
      onOut(out, child);
    });
    child.stderr.on('data', (c) => {
      err += c;
      events.push(['err', String(c)]);
    });
    child.on('close', (code, signal) => resolve({ code, signal, out, err, events }));
  });
}

test('text streams to stdout in several chunks, plain first then contrasted; rates on stderr', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const r = await run(['--model', dir, '--prompt', 'Once upon a time', '--compare', '--max-new-tokens', '200']);
  assert.is(r.code, 0, r.err);
  const plainAt = r.out.indexOf('--- plain (layer 5)');
  const acdAt = r.out.indexOf('--- contrasted (acd, amateur layer 2');
  assert.ok(plainAt === 0 && acdAt > plainAt, r.out);
  assert.ok(r.events.filter(([k]) => k === 'out').length > 2, 'more than one stdout write per run');
  assert.match(r.err, /plain: \d+ tokens, [\d.]+ tokens\/s/);
  assert.match(r.err, /contrasted: \d+ tokens, [\d.]+ tokens\/s/);
  // The streamed text is the text generate returns: compare with --json of the same runs.
  const j = JSON.parse(spawnSync(process.execPath, [main, 'generate', '--model', dir, '--prompt', 'Once upon a time', '--compare', '--max-new-tokens', '200', '--json'], { encoding: 'utf8' }).stdout);
  assert.ok(r.out.includes(`Once upon a time${j.plain.text}\n`), 'plain text as generate returns it');
  assert.ok(r.out.includes(`Once upon a time${j.contrasted.text}\n`), 'contrasted text as generate returns it');
});

test('--json prints exactly one JSON object on stdout', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const r = await run(['--model', dir, '--prompt', 'Once upon a time', '--max-new-tokens', '30', '--json']);
  assert.is(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  assert.is(o.prompt, 'Once upon a time');
  assert.is(r.out.trim().split('\n').length, 1);
});

test('--chat labels the prompt and the reply', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const r = await run(['--model', dir, '--prompt', 'Hello', '--chat', '--max-new-tokens', '10', '--no-contrast']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^--- prompt\nHello\n\n--- reply \(plain \(layer 5\)\)\n/);
});

test('Ctrl-C mid-generation keeps the text printed so far, adds a one-line notice, exits 130', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  // stories260K is fast: interrupt as soon as the first generated text arrives, in a long run.
  let sent = false;
  const r = await run(['--model', dir, '--prompt', 'Once upon a time', '--max-new-tokens', '100000', '--compare'], (out, child) => {
    if (!sent && out.length > '--- plain (layer 5)\nOnce upon a time'.length + 5) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, 'the CLI printed generated text');
  assert.is(r.code, 130, `${r.code} ${r.signal} ${r.err}`);
  assert.match(r.out, /^--- plain \(layer 5\)\nOnce upon a time.{5,}/s);
  const notice = r.err.trim().split('\n').filter((l) => /interrupted/.test(l));
  assert.is(notice.length, 1, r.err);
  assert.match(notice[0], /interrupted after \d+ tokens \(plain/);
  assert.not.match(r.out, /--- contrasted/, 'the second run does not start');
});

test('Ctrl-C with --json prints only a JSON object with the partial text', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  // With --json nothing streams, so the interrupt is timed from the "generating:" notice; on a busy machine the
  // first delay can fall before the first token, so the delay grows until some tokens were made. Every attempt
  // must still exit 130 with one well-formed JSON object.
  let tokens = 0;
  for (const delay of [150, 600, 2400]) {
    const child = spawn(process.execPath, [main, 'generate', '--model', dir, '--prompt', 'Once upon a time', '--max-new-tokens', '100000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', armed = false;
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => {
      err += c;
      if (/generating: /.test(err) && !armed) {
        armed = true;
        setTimeout(() => child.kill('SIGINT'), delay);
      }
    });
    const code = await new Promise((r) => child.on('close', (c) => r(c)));
    assert.is(code, 130, err);
    const o = JSON.parse(out);
    assert.is(o.interrupted, true);
    assert.type(o.text, 'string');
    tokens = o.tokens;
    if (tokens > 0) break;
  }
  assert.ok(tokens > 0, `${tokens} tokens before the interrupt, even 2.4 s after generation started`);
});

test.run();
