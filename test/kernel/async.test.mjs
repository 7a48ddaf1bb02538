// The async variants give the sync results and leave the event loop free while a large batch runs.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';
import { assertTimerFired, latencyBoundApplies } from '../helpers/event-loop.mjs';

const { acdLogProbs, acdLogProbsAsync, cdScores, cdScoresAsync, backend } = lib;
const V = 50257;

test('async results equal sync results, for concurrent calls too', async () => {
  const rows = 8;
  const E = normals(rows * V, 31, 3), A = normals(rows * V, 32, 3);
  const sync = acdLogProbs(E, A, { vocabSize: V });
  const cdSync = cdScores(E, A, { vocabSize: V, alpha: 0.2 });
  const [a, b, c] = await Promise.all([
    acdLogProbsAsync(E, A, { vocabSize: V }),
    cdScoresAsync(E, A, { vocabSize: V, alpha: 0.2 }),
    acdLogProbsAsync(E, A, { vocabSize: V, out: new Float32Array(rows * V) }),
  ]);
  assert.equal(a, sync);
  assert.equal(b, cdSync);
  assert.equal(c, sync);
});

test('event-loop delay stays low while batches of 64 rows run asynchronously', async () => {
  if (!backend().startsWith('native')) {
    console.log('  skipped: the TypeScript fallback runs on the main thread (native addon not loaded)');
    return;
  }
  const rows = 64;
  const E = normals(rows * V, 41, 3), A = normals(rows * V, 42, 3);
  const out = new Float32Array(rows * V);
  // The same batch run synchronously blocks the loop for its whole duration: the contrast to compare with.
  const t0 = performance.now();
  acdLogProbs(E, A, { vocabSize: V, out });
  const syncMs = performance.now() - t0;

  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let ticks = 0;
  const tick = setInterval(() => ticks++, 2);
  const start = performance.now();
  const until = performance.now() + Math.max(600, syncMs * 4);
  let calls = 0;
  while (performance.now() < until) {
    await acdLogProbsAsync(E, A, { vocabSize: V, out });
    calls++;
  }
  clearInterval(tick);
  h.disable();
  const elapsed = performance.now() - start;
  const p99 = h.percentile(99) / 1e6;
  console.log(`  sync batch: ${syncMs.toFixed(1)} ms; async: ${calls} batches, event-loop delay p99 ${p99.toFixed(2)} ms; ${ticks} timer ticks`);
  assert.ok(calls >= 2);
  assertTimerFired(assert, ticks, elapsed, 2);
  if (latencyBoundApplies()) assert.ok(p99 < 20, `p99 event-loop delay ${p99} ms`);
});

test.run();
