// The native decode loop (Sequence.decode, the addon's rtDecode): its tokens equal a prefill + step loop driven
// from JavaScript with the same fused selection, a stop request ends it before its next step, and what JavaScript
// sends is checked natively (wrong types, ids outside the vocabulary, a step budget over maxLength, a contrast
// without exit logits, overlapping calls), each rejected with a code. RSS stays flat over many loops.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as h from './helpers.mjs';
// Internal: the addon loader (cached, the object the runtime calls), to reach rtDecode with raw arguments.
import nativePkg from '../../dist/kernel/native.js';

const skip = h.skipReason();
// a longer context than the tiny default (learned positions), so that loops can run for a few hundred steps
const cfg = { ...h.graph.TINY_GPT2_CONFIG, contextLength: 320 };
const V = cfg.vocabSize;

/** The loop's selections as arrays, per step (`stopAfter`: onStep returns true at that step). */
async function loop(seq, prompts, selection, limits, stopAfter = Infinity) {
  const steps = [];
  const r = await seq.decode(prompts, selection, limits, (tokens, logProbs, step) => {
    steps.push({ step, tokens: Array.from(tokens), logProbs: Array.from(logProbs) });
    return step >= stopAfter;
  });
  return { steps, result: r };
}

if (skip) {
  test('decode loop tests', () => {});
} else {
  let M;
  test.before(async () => {
    const folder = await h.buildModelFolder(cfg, { exits: [{ layer: 1, kind: 'lens' }] });
    M = await h.rt.loadModel(folder.dir);
  });
  test.after(() => M?.dispose());

  test('the loop equals prefill + steps with the same fused selection (plain and ACD, greedy and sampled)', async () => {
    const prompts = [h.tokens(5, V, 1), h.tokens(2, V, 2)];
    for (const selection of [{ mode: 'plain' }, { mode: 'plain', sample: { temperature: 1.4, seed: 7 } }, { alpha: 0.2 }, { mode: 'cd', sample: { topP: 0.9, seed: 3 } }]) {
      const N = 9;
      const exit = selection.mode === 'plain' ? {} : { exit: { layer: 1, logits: true } };
      const a = M.createSequence({ batch: 2, maxLength: 5 + N, ...exit });
      const { steps, result } = await loop(a, prompts, selection, { maxSteps: N, eos: [], filler: 0 });
      assert.is(result.steps, N);
      assert.is(steps.length, N);
      assert.is(result.pastLength, 5 + N - 1);
      const b = M.createSequence({ batch: 2, maxLength: 5 + N, ...exit });
      let o = await b.prefill(prompts, { contrast: selection });
      for (let s = 0; s < N; s++) {
        assert.equal(steps[s].tokens, Array.from(o.tokens), `${JSON.stringify(selection)} step ${s}`);
        steps[s].logProbs.forEach((lp, r) => assert.ok(Math.abs(lp - o.logprobs[r]) < 1e-6));
        if (s < N - 1) o = await b.stepAndContrast(Array.from(o.tokens), selection);
      }
      a.dispose();
      b.dispose();
    }
  });

  test('a row that selects eos is fed the filler; every row at eos ends the loop; onStep true stops it', async () => {
    const seq = M.createSequence({ batch: 1, maxLength: 40 });
    const free = await loop(seq, [[3, 4]], { mode: 'plain' }, { maxSteps: 20, eos: [], filler: 0 });
    seq.dispose();
    const eos = free.steps[4].tokens[0];
    const first = free.steps.findIndex((s) => s.tokens[0] === eos);
    const s2 = M.createSequence({ batch: 1, maxLength: 40 });
    const ended = await loop(s2, [[3, 4]], { mode: 'plain' }, { maxSteps: 20, eos: [eos], filler: 0 });
    assert.is(ended.result.steps, first + 1, 'the loop ends at the first eos');
    s2.dispose();
    // onStep returning true: the worker has usually run ahead by then; whatever it made is delivered in order and
    // equals the free run (the caller drops what follows its stop point)
    const s3 = M.createSequence({ batch: 1, maxLength: 40 });
    const stopped = await loop(s3, [[3, 4]], { mode: 'plain' }, { maxSteps: 20, eos: [], filler: 0 }, 2);
    assert.ok(stopped.result.steps >= 3 && stopped.result.steps <= 20);
    assert.is(stopped.steps.length, stopped.result.steps, 'every selection made was delivered');
    assert.equal(stopped.steps.map((s) => s.tokens), free.steps.slice(0, stopped.result.steps).map((s) => s.tokens));
    s3.dispose();
  });

  test('stopDecode ends the loop before its next step', async () => {
    const seq = M.createSequence({ batch: 1, maxLength: 310 });
    let calls = 0;
    const run = seq.decode([[1, 2]], { mode: 'plain' }, { maxSteps: 300, eos: [], filler: 0 }, () => (calls++, false));
    // asked at once: the worker could only have run all 300 steps if this thread stalled for their whole duration
    seq.stopDecode();
    const r = await run;
    assert.ok(r.steps < 300, `stopped early (${r.steps} steps)`);
    assert.is(calls, r.steps, 'every selection made was delivered before the promise settled');
    seq.dispose();
  });

  test('what JavaScript sends is checked natively, with codes', async () => {
    const addon = nativePkg.loadNative();
    const original = addon.rtDecode;
    const cb = () => false;
    // The raw handle of a sequence that was never prefilled: taken from a call the native side refuses at once.
    const s = M.createSequence({ batch: 1, maxLength: 8, exit: { layer: 1, logits: true } });
    let hd;
    addon.rtDecode = (x, ...a) => ((hd = x), original(x, ...a));
    try {
      assert.throws(() => s.decode([[1]], { mode: 'plain' }, { maxSteps: 0, eos: [], filler: 0 }, cb), (e) => e.code === 'ERR_OUT_OF_RANGE');
    } finally {
      addon.rtDecode = original;
    }
    const acd = { mode: 0, alpha: 0.1, minCandidates: 1 };
    const tok = Int32Array.of(1, 2), len = Int32Array.of(2), plain = { mode: 2 }, lim = { maxSteps: 3, eos: new Int32Array(0), filler: 0 };
    const cases = [
      [() => original(hd, [1, 2], len, plain, lim, cb), 'ERR_INVALID_ARG_TYPE', /Int32Array tokens/],
      [() => original(hd, tok, len, plain, lim, 'cb'), 'ERR_INVALID_ARG_TYPE', /onStep function/],
      [() => original(hd, tok, Int32Array.of(3), plain, lim, cb), 'ERR_OUT_OF_RANGE', /prompt lengths/],
      [() => original(hd, tok, len, { mode: 3 }, lim, cb), 'ERR_OUT_OF_RANGE', /mode/],
      [() => original(hd, tok, len, { mode: 0, alpha: 2, minCandidates: 1 }, lim, cb), 'ERR_OUT_OF_RANGE', /alpha/],
      [() => original(hd, tok, len, { mode: 2, sample: { topP: 0 } }, lim, cb), 'ERR_OUT_OF_RANGE', /topP/],
      [() => original(hd, tok, len, plain, { ...lim, maxSteps: 0 }, cb), 'ERR_OUT_OF_RANGE', /maxSteps/],
      [() => original(hd, tok, len, plain, { ...lim, maxSteps: 8 }, cb), 'ERR_OUT_OF_RANGE', /exceeds the sequence's maxLength/],
      [() => original(hd, tok, len, plain, { ...lim, eos: Int32Array.of(V) }, cb), 'ERR_OUT_OF_RANGE', /eos token id/],
      [() => original(hd, tok, len, plain, { ...lim, eos: [1] }, cb), 'ERR_INVALID_ARG_TYPE', /eos to be an Int32Array/],
      [() => original(hd, tok, len, plain, { ...lim, filler: -1 }, cb), 'ERR_OUT_OF_RANGE', /filler/],
      [() => original(hd, Int32Array.of(V), Int32Array.of(1), plain, lim, cb), 'ERR_OUT_OF_RANGE', /outside/],
      [() => original({}, tok, len, plain, lim, cb), 'ERR_INVALID_ARG_TYPE', /sequence handle/],
      [() => original(hd, tok, len, { ...acd, sparse: { weight: new Float32Array(V * cfg.hiddenSize), weightDtype: 0 } }, lim, cb), 'ERR_OUT_OF_RANGE', /hidden state/],
    ];
    for (const [call, code, re] of cases) {
      assert.throws(call, (e) => e.code === code && re.test(e.message), `${code} ${re}`);
    }
    s.dispose();
    // the sparse amateur's head: its size and element type are checked against the sequence
    const sh = M.createSequence({ batch: 1, maxLength: 8, exit: { layer: 1, hidden: true } });
    const d = cfg.hiddenSize;
    for (const [sparse, code, re] of [
      [{ weight: new Float32Array(V * d - 1), weightDtype: 'float32' }, 'ERR_OUT_OF_RANGE', /sparse.weight to hold/],
      [{ weight: new Float32Array(V * d), weightDtype: 'float16' }, 'ERR_INVALID_ARG_TYPE', /weight/],
      [{ weight: new Float32Array(V * d), weightDtype: 'float32', bias: new Float32Array(V + 1) }, 'ERR_OUT_OF_RANGE', /sparse.bias/],
    ]) {
      assert.throws(() => sh.decode([[1]], { alpha: 0.1, sparse }, { maxSteps: 2, eos: [], filler: 0 }, cb), (e) => e.code === code && re.test(e.message), String(re));
    }
    sh.dispose();
    // a contrast needs exit logits; overlapping calls are refused; a disposed sequence is refused
    const noExit = M.createSequence({ batch: 1, maxLength: 8 });
    assert.throws(() => noExit.decode([[1]], { alpha: 0.1 }, { maxSteps: 2, eos: [], filler: 0 }, cb), (e) => e.code === 'AC_INVALID_STATE' && /exit logits/.test(e.message));
    const running = noExit.decode([[1]], { mode: 'plain' }, { maxSteps: 4, eos: [], filler: 0 }, cb);
    assert.throws(() => noExit.decode([[1]], { mode: 'plain' }, { maxSteps: 2, eos: [], filler: 0 }, cb), (e) => e.code === 'AC_INVALID_STATE');
    await running;
    assert.throws(() => noExit.decode([[1]], { mode: 'plain' }, { maxSteps: 2, eos: [], filler: 0 }, cb), (e) => e.code === 'AC_INVALID_STATE' && /prefill was already called/.test(e.message));
    noExit.dispose();
    assert.throws(() => noExit.decode([[1]], { mode: 'plain' }, { maxSteps: 2, eos: [], filler: 0 }, cb), /disposed/);
  });

  test('an onStep that throws stops the loop and rejects with its error', async () => {
    const seq = M.createSequence({ batch: 1, maxLength: 300 });
    let calls = 0;
    const err = await seq
      .decode([[1, 2]], { mode: 'plain' }, { maxSteps: 290, eos: [], filler: 0 }, () => {
        if (++calls === 2) throw new Error('from onStep');
        return false;
      })
      .then(() => null, (e) => e);
    assert.is(err?.message, 'from onStep');
    assert.is(calls, 2, 'nothing is delivered after the throw');
    seq.dispose();
  });

  test('RSS stays flat over many loops (no leak per loop or per step)', async () => {
    const run = async (n) => {
      for (let i = 0; i < n; i++) {
        const seq = M.createSequence({ batch: 2, maxLength: 40, exit: { layer: 1, logits: true } });
        await seq.decode([[1, 2, 3], [4]], { alpha: 0.1, sample: { seed: i } }, { maxSteps: 30, eos: [], filler: 0 }, () => false);
        seq.dispose();
      }
    };
    await run(50);
    global.gc?.();
    const before = process.memoryUsage().rss;
    await run(300);
    global.gc?.();
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    // 300 loops x 30 steps: a leak of even one step's queue item (2 rows) per step would be ~9000 allocations; a
    // leaked sequence ~100 KiB each (30 MiB). The bound leaves room for the allocator's own slack.
    assert.ok(grown < 16, `RSS grew ${grown.toFixed(1)} MiB over 300 loops`);
  });
}

test.run();
