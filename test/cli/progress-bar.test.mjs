// Progress display: the line's content worked out by hand (bytes, floored percentage, rate, ETA), the plain
// mode's lines (phase start, quarters, end), the terminal mode's in-place redraws, and a real pseudo-terminal.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// Internal module under test (not public): the CLI's progress bar and its clock.
import { ProgressBar, clock, renderProgress } from '../../dist/cli/progress-bar.js';
import { repoRoot } from '../helpers/lib.mjs';

const MB = 1048576;

test('renderProgress: bytes, floored percentage from 0, bar, rate and ETA', () => {
  assert.is(renderProgress({ label: 'dl', done: 0, total: 100 * MB, elapsedMs: 0 }, 10), 'dl [----------]   0% 0.0 / 100.0 MB');
  // 25 MB in 5 s: 5 MB/s, 75 MB left: 15 s.
  assert.is(renderProgress({ label: 'dl', done: 25 * MB, total: 100 * MB, elapsedMs: 5000 }, 10), 'dl [##--------]  25% 25.0 / 100.0 MB, 5.0 MB/s, ETA 0:15');
  // 99.9% is shown as 99, not 100; the bar is full only at the end.
  assert.is(renderProgress({ label: 'x', done: 999, total: 1000, elapsedMs: 100 }, 10), 'x [#########-]  99% 0.0 / 0.0 MB');
  assert.is(renderProgress({ label: 'x', done: 1000, total: 1000, elapsedMs: 2000 }, 4), 'x [####] 100% 0.0 / 0.0 MB, 0.0 MB/s');
  // Unknown total: bytes and rate only.
  assert.is(renderProgress({ label: 'pip', done: 3 * MB, total: 0, elapsedMs: 1000 }), 'pip 3.0 MB, 3.0 MB/s');
  // More than the total (a server that lied) is capped.
  assert.is(renderProgress({ label: 'x', done: 2 * MB, total: MB, elapsedMs: 0 }, 2), 'x [##] 100% 1.0 / 1.0 MB');
  assert.is(clock(0), '0:00');
  assert.is(clock(75.4), '1:15');
  assert.is(clock(3600 + 62), '1:01:02');
});

function fakeStream(isTTY) {
  const writes = [];
  return { isTTY, writes, write: (s) => writes.push(s) };
}

test('plain mode (not a terminal): a line at the start of each phase, at each quarter and at the end', () => {
  let now = 0;
  const s = fakeStream(false);
  const bar = new ProgressBar(s, () => now);
  for (let done = 0; done <= 100; done += 5) {
    bar.update('converting', done * MB, 100 * MB);
    now += 100;
  }
  bar.update('extracting', 0, 10);
  bar.done();
  const pct = s.writes.map((w) => /\s(\d+)%/.exec(w)?.[1]);
  assert.equal(pct, ['0', '25', '50', '75', '100', '0']);
  assert.ok(s.writes.every((w) => w.endsWith('\n') && !w.includes('\r') && !w.includes('\x1b')));
  assert.match(s.writes[2], /^converting \[#+-+\]  50% 50\.0 \/ 100\.0 MB, 50\.0 MB\/s, ETA 0:01\n$/);
});

test('terminal mode: redrawn in place, at most every 100 ms, final state always drawn, a newline per phase', () => {
  let now = 0;
  const s = fakeStream(true);
  const bar = new ProgressBar(s, () => now);
  bar.update('downloading', 0, 1000);
  now += 10;
  bar.update('downloading', 100, 1000); // throttled
  now += 100;
  bar.update('downloading', 500, 1000);
  now += 10;
  bar.update('downloading', 1000, 1000); // final: drawn despite the throttle
  bar.update('converting', 0, 0);
  bar.done();
  const draws = s.writes.filter((w) => w.startsWith('\r'));
  assert.equal(draws.map((w) => /\s(\d+)%/.exec(w)?.[1] ?? '-'), ['0', '50', '100', '-']);
  assert.ok(draws.every((w) => w.endsWith('\x1b[K')));
  assert.equal(s.writes.filter((w) => w === '\n').length, 2, 'one newline ending each phase');
});

test('a real pseudo-terminal gets the in-place bar; a pipe gets plain lines', () => {
  const script = `const { ProgressBar } = require('./dist/cli/progress-bar.js');
const bar = new ProgressBar();
let i = 0;
const t = setInterval(() => { bar.update('downloading', i * 1048576, 8 * 1048576); if (i++ === 8) { clearInterval(t); bar.done(); } }, 120);`;
  const piped = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8' });
  assert.is(piped.status, 0, piped.stderr);
  assert.equal(piped.stderr.trim().split('\n').map((l) => /\s(\d+)%/.exec(l)?.[1]), ['0', '25', '50', '75', '100']);
  let hasScript = true;
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
  } catch {
    hasScript = false;
  }
  if (!hasScript) {
    console.log('  (skipped the pseudo-terminal half: util-linux `script` is not installed)');
    return;
  }
  const file = join(mkdtempSync(join(tmpdir(), 'ac-pty-')), 'bar.cjs');
  writeFileSync(file, script.replace('./dist/', `${repoRoot}dist/`));
  // `script` runs the command on a new pseudo-terminal and copies what it prints (stdout and stderr) to ours.
  const tty = execFileSync('script', ['-qec', `${process.execPath} ${file}`, '/dev/null'], { cwd: repoRoot, encoding: 'utf8' });
  const draws = tty.split('\r').filter((d) => d.includes('downloading'));
  assert.ok(draws.length >= 5, `redraws: ${JSON.stringify(tty)}`);
  assert.ok(tty.includes('\x1b[K'), 'clears to the end of the line');
  assert.match(draws[0], /downloading \[-+\]   0% 0\.0 \/ 8\.0 MB/);
  assert.match(tty, /100% 8\.0 \/ 8\.0 MB, [\d.]+ MB\/s/);
  assert.match(tty, /ETA \d+:\d\d/);
});

test.run();
