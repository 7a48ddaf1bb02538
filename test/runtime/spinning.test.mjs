// allowSpinning 'auto' (native/runtime/spin_policy.h): the policy's decisions on synthetic step times (the same
// functions Sequence::Run calls, driven without a clock through the addon's rtSpinPolicyTrace), equal tokens and
// log-probabilities whichever session runs a step (false, true, 'auto'), and the option's validation (one place,
// src/config/session.ts: errors name the API field or the CLI flag, with codes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as h from './helpers.mjs';
// Internal: the addon loader (cached, the object the runtime calls), to reach the policy trace.
import nativePkg from '../../dist/kernel/native.js';

const skip = h.skipReason();
const { resolveAllowSpinning, DEFAULT_ALLOW_SPINNING } = h.rt;

/** The policy over n steps whose times in each mode are given by `times(i)` -> [offMs, onMs]. */
function trace(n, times, extra = {}) {
  const off = new Float64Array(n), on = new Float64Array(n);
  for (let i = 0; i < n; i++) [off[i], on[i]] = times(i);
  const r = nativePkg.loadNative().rtSpinPolicyTrace({ off, on, ...extra });
  return { spinning: Array.from(r.spinning), probe: Array.from(r.probe), hint: r.hint };
}
const count = (a, from = 0, to = a.length) => a.slice(from, to).reduce((s, x) => s + x, 0);
/** Steps in [from, to) that ran spinning and were not probes (the policy's mode, not a measurement). */
const modeOn = (t, from, to) => t.spinning.slice(from, to).filter((s, i) => s && !t.probe[from + i]).length;

test('resolveAllowSpinning: the values, the default, errors naming the API field or the CLI flag', () => {
  assert.is(DEFAULT_ALLOW_SPINNING, resolveAllowSpinning(undefined));
  for (const v of [true, false, 'within-run', 'auto']) assert.is(resolveAllowSpinning(v), v);
  assert.is(resolveAllowSpinning('off', 'cli'), false);
  assert.is(resolveAllowSpinning('on', 'cli'), true);
  assert.is(resolveAllowSpinning('within-run', 'cli'), 'within-run');
  assert.is(resolveAllowSpinning('auto', 'cli'), 'auto');
  const err = (fn) => {
    try {
      fn();
    } catch (e) {
      return e;
    }
    throw new Error('expected an error');
  };
  let e = err(() => resolveAllowSpinning('sometimes'));
  assert.is(e.code, 'ERR_OUT_OF_RANGE');
  assert.match(e.message, /^allowSpinning must be true, false, 'within-run' or 'auto', got 'sometimes'/);
  e = err(() => resolveAllowSpinning(1));
  assert.is(e.code, 'ERR_INVALID_ARG_TYPE');
  assert.match(e.message, /allowSpinning/);
  e = err(() => resolveAllowSpinning('true', 'cli'));  // the CLI takes words, not the API's booleans
  assert.is(e.code, 'ERR_OUT_OF_RANGE');
  assert.match(e.message, /^--spinning expects off, on, within-run, auto, got "true"/);
  assert.not.match(e.message, /allowSpinning/);
});

if (skip) {
  test('spinning runtime tests', () => {});
} else {
  test('policy: alone (spinning faster) it switches to spinning after two probes and stays there', () => {
    const t = trace(400, () => [20, 14]);
    // step 0 is not a reference (first decode step), step 1 is, step 2 probes, steps 3-4 settle, 5 is a
    // reference again, 6 confirms: from step 7 on the policy spins.
    assert.equal(t.spinning.slice(0, 7), [0, 0, 1, 0, 0, 0, 1]);
    assert.equal(t.probe.slice(0, 7), [0, 0, 1, 0, 0, 0, 1]);
    assert.is(modeOn(t, 7, 400), 400 - 7 - count(t.probe, 7));
    // Probes back to "off" come at intervals doubling from 8 to 128: at most 1 in 8 steps, and rarer later.
    assert.ok(count(t.probe, 7) <= 6, `probes after the switch: ${count(t.probe, 7)}`);
    assert.ok(count(t.probe, 200) <= 2);
    assert.equal(t.hint, { spinning: true, interval: 128 });
  });

  test('policy: beside busy processes (spinning slower) it never leaves "off" and its probes thin out', () => {
    const t = trace(400, () => [25, 46]);
    assert.is(modeOn(t, 0, 400), 0);
    // Probes at steps 2, then intervals 8, 16, 32, 64, 128: 7 in 400 steps, the share <= 1 in 8 after the start.
    assert.ok(count(t.probe) <= 7, `probes: ${count(t.probe)}`);
    assert.ok(count(t.probe, 100) <= 3);
    assert.equal(t.hint, { spinning: false, interval: 128 });
  });

  test('policy: one fast probe is not enough to switch (the confirming probe disagrees)', () => {
    const t = trace(100, (i) => [25, i === 2 ? 10 : 46]);
    assert.is(t.probe[2], 1);
    assert.is(modeOn(t, 0, 100), 0);
  });

  test('policy: a busy process starting while it spins is noticed within a few steps, and its end later', () => {
    const hog = (i) => i >= 200 && i < 500;
    const t = trace(800, (i) => (hog(i) ? [25, 46] : [20, 14]));
    assert.ok(modeOn(t, 150, 200) >= 45, 'spinning before the busy process');
    // Two surprising steps, then a probe within kMinInterval (8) steps and its confirmation 4 steps later.
    const back = t.spinning.findIndex((s, i) => i >= 200 && !s && !t.probe[i]);
    assert.ok(back > 200 && back <= 200 + 16, `back to off at step ${back}`);
    assert.is(modeOn(t, 220, 500), 0, 'no spinning mode beside the busy process');
    // The end of the busy process: off steps get faster by 1.25x only (no surprise), so the next probe (its
    // interval at most 128) finds it, and the confirming probe 4 steps later switches.
    const on = t.spinning.findIndex((s, i) => i >= 500 && s && !t.probe[i]);
    assert.ok(on > 500 && on <= 500 + 128 + 6, `spinning again at step ${on}`);
  });

  test('policy: prefills run in the current mode and are never probes; a row count change resets the reference', () => {
    const n = 60;
    const decode = new Uint8Array(n).fill(1);
    decode[0] = 0;
    decode[30] = 0;
    const rows = new Int32Array(n).fill(1);
    for (let i = 30; i < n; i++) rows[i] = 4;
    const t = trace(n, () => [20, 14], { decode, rows });
    assert.is(t.probe[0], 0);
    assert.is(t.probe[30], 0);
    // Steps 1-7 as in the first test (shifted by the prefill): switched by step 8.
    assert.is(modeOn(t, 8, 30), 30 - 8 - count(t.probe, 8, 30));
    // After the change of rows the reference is rebuilt before any probe (no probe at steps 30-32).
    assert.equal(t.probe.slice(30, 33), [0, 0, 0]);
    assert.is(t.spinning[30], 1, 'the prefill runs in the current mode');
  });

  test('policy: a new sequence starts from the model hint', () => {
    const t = trace(20, () => [20, 14], { hint: { spinning: true, interval: 128 } });
    assert.is(count(t.spinning), 20);
    assert.is(count(t.probe), 0);
  });

  test('policy: noisy equal modes: the share of probes stays bounded', () => {
    const rnd = h.graph.mulberry32(5);
    const t = trace(2000, () => {
      const x = 20 * (0.7 + 0.6 * rnd());
      return [x, 20 * (0.7 + 0.6 * rnd())];
    });
    // Surprises (two steps in a row 1.5x off the reference) drop the interval to 8 at most; confirmations
    // add one probe each: well under 1 in 6.
    assert.ok(count(t.probe) <= 2000 / 6, `probes: ${count(t.probe)}`);
  });

  test('false, true and auto give the same tokens and log-probabilities; auto runs steps in both sessions', async () => {
    const cfg = { ...h.graph.TINY_GPT2_CONFIG, contextLength: 96 };
    const folder = await h.buildModelFolder(cfg, { exits: [{ layer: 1, kind: 'lens' }] });
    const prompts = [h.tokens(5, cfg.vocabSize, 3), h.tokens(3, cfg.vocabSize, 4)];
    const N = 40;
    const results = {};
    for (const allowSpinning of [false, true, 'auto']) {
      const M = await h.rt.loadModel(folder.dir, { allowSpinning, intraOpThreads: 2 });
      const out = [];
      for (const selection of [{ mode: 'plain' }, { alpha: 0.2 }]) {
        const seq = M.createSequence({ batch: 2, maxLength: 5 + N, ...(selection.mode === 'plain' ? {} : { exit: { layer: 1, logits: true } }) });
        await seq.decode(prompts, selection, { maxSteps: N, eos: [], filler: 0 }, (tokens, logProbs) => {
          out.push([...tokens, ...logProbs]);
          return false;
        });
        seq.dispose();
      }
      results[String(allowSpinning)] = out;
      const st = M.spinningStats();
      if (allowSpinning === 'auto') {
        assert.ok(st.twin, 'the spinning twin was created');
        assert.ok(st.spinningSteps >= 1 && st.spinningSteps < st.decodeSteps, JSON.stringify(st));
        assert.is(st.decodeSteps, 2 * (N - 1));
      } else {
        assert.equal(st, { decodeSteps: 0, spinningSteps: 0, probes: 0, twin: false });
      }
      M.dispose();
    }
    assert.equal(results.true, results.false);
    assert.equal(results.auto, results.false);
  });

  test('loadModel checks allowSpinning before loading (codes, the field named)', async () => {
    const folder = await h.buildModelFolder(h.graph.TINY_GPT2_CONFIG);
    for (const [v, code] of [['sometimes', 'ERR_OUT_OF_RANGE'], [1, 'ERR_INVALID_ARG_TYPE'], ['on', 'ERR_OUT_OF_RANGE']]) {
      try {
        await h.rt.loadModel(folder.dir, { allowSpinning: v });
        assert.unreachable(`allowSpinning ${v} was accepted`);
      } catch (e) {
        assert.is(e.code, code, String(e));
        assert.match(e.message, /allowSpinning/);
      }
    }
  });
}

test.run();
