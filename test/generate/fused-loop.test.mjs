// The fused native loop (many fused steps in one native call, tokens handed to JavaScript as they are made)
// against the fused step run once per token (AUTOCONTRAST_FUSED=step), through load() + generate() on a tiny
// model folder with dense exit logits: the same tokens for the same seed, log-probabilities to 1e-5, for plain
// decoding, ACD and CD, greedy and every sampling strategy, one row and rows that end at different times; and the
// same result when a stopWhen, a stop string's watcher or an abort ends generation in the middle. The amateur is
// dense (exit logits) or sparse (exit hidden state x head rows).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gen, runtimeSkip, storiesFolder, tinyFolder } from './helpers.mjs';
// Internal: the addon loader (cached), to count which native entry point ran (the loop or the fused step).
import nativePkg from '../../dist/kernel/native.js';

const skip = runtimeSkip();
const prompts = [[3, 5, 7], [11], [2, 9, 4, 4]];
const NEW = 16;
let model;

/** Runs `run(options)` with AUTOCONTRAST_FUSED set to `value` (undefined: unset, the loop). */
async function withFused(value, run) {
  const before = process.env.AUTOCONTRAST_FUSED;
  if (value === undefined) delete process.env.AUTOCONTRAST_FUSED;
  else process.env.AUTOCONTRAST_FUSED = value;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.AUTOCONTRAST_FUSED;
    else process.env.AUTOCONTRAST_FUSED = before;
  }
}

/** Counts the addon's fused loop and fused step calls (the same cached addon object the runtime calls). */
function countingAddon() {
  const addon = nativePkg.loadNative();
  const counts = { loop: 0, step: 0 };
  for (const [name, key] of [['rtDecode', 'loop'], ['rtStepAndContrast', 'step']]) {
    const original = addon[name];
    addon[name] = (...a) => (counts[key]++, original(...a));
  }
  return counts;
}

function assertSame(a, b, what) {
  assert.is(a.length, b.length, `${what}: rows`);
  a.forEach((r, i) => {
    assert.ok(r.timing.fused && b[i].timing.fused, `${what}: both fused`);
    assert.equal(r.tokens, b[i].tokens, `${what} row ${i}`);
    assert.is(r.finishReason, b[i].finishReason, `${what} row ${i} finish`);
    r.logProbs.forEach((lp, j) => assert.ok(Math.abs(lp - b[i].logProbs[j]) < 1e-5, `${what} row ${i} token ${j}: ${lp} vs ${b[i].logProbs[j]}`));
  });
}

test.before(async () => {
  if (skip) return;
  model = await gen.load(await tinyFolder());
});
test.after(() => model?.dispose());

const cases = [
  { contrast: false },
  { contrast: false, strategy: 'sample', temperature: 1.3, seed: 4 },
  { contrast: false, strategy: 'top-p', topP: 0.8, seed: 21 },
  { amateurLayer: 2 },
  { amateurLayer: 1, mode: 'cd', beta: 0.5, alpha: 0.05 },
  { amateurLayer: 2, strategy: 'sample', temperature: 1.7, seed: 3 },
  { amateurLayer: 2, strategy: 'top-k', topK: 3, temperature: 0.8, seed: 9 },
  { amateurLayer: 1, mode: 'cd', strategy: 'top-p', topP: 0.95, temperature: 3, seed: 1 },
  { amateurLayer: 1, amateurPath: 'sparse' },
  { amateurLayer: 2, amateurPath: 'sparse', strategy: 'sample', temperature: 1.5, seed: 12 },
];

test('the loop equals the fused step per token (and the chain): every fusable strategy, batch 1 and 3', async () => {
  if (skip) return;
  const counts = countingAddon();
  for (const c of cases) {
    const o = { maxNewTokens: NEW, eosTokenId: [], ...(c.contrast === false ? {} : { amateurPath: 'dense' }), ...c };
    for (const rows of [[prompts[0]], prompts]) {
      const what = `${JSON.stringify(c)} x${rows.length}`;
      const before = { ...counts };
      const loop = await withFused(undefined, () => gen.generate(model, rows, o));
      assert.is(counts.loop, before.loop + 1, `${what}: the loop ran`);
      const step = await withFused('step', () => gen.generate(model, rows, o));
      assert.is(counts.loop, before.loop + 1, `${what}: AUTOCONTRAST_FUSED=step runs no loop`);
      assert.ok(counts.step > before.step, `${what}: ... but the fused step`);
      assertSame(loop, step, what);
      const chain = await withFused('0', () => gen.generate(model, rows, o));
      loop.forEach((r, i) => assert.equal(r.tokens, chain[i].tokens, `${what} row ${i} vs the chain`));
    }
  }
});

test('rows that end at different times (eos): the same tokens and lengths as the per-token path', async () => {
  if (skip) return;
  for (const c of [{ contrast: false }, { amateurLayer: 2, amateurPath: 'dense', strategy: 'sample', seed: 5 }, { amateurLayer: 1, amateurPath: 'sparse' }]) {
    const free = await gen.generate(model, prompts, { maxNewTokens: NEW, eosTokenId: [], ...c });
    // eos ids taken from the free run: row 0's 3rd token and row 2's 9th (each row ends at its first eos)
    const eos = [free[0].tokens[2], free[2].tokens[8]];
    const o = { maxNewTokens: NEW, eosTokenId: eos, ...c };
    const loop = await gen.generate(model, prompts, o);
    const step = await withFused('step', () => gen.generate(model, prompts, o));
    assertSame(loop, step, JSON.stringify(c));
    const lengths = loop.map((r) => r.tokens.length);
    assert.ok(loop.some((r) => r.finishReason === 'eos'), `${JSON.stringify(c)}: some row ended at eos`);
    assert.ok(new Set(lengths).size > 1, `rows ended at different times: ${lengths}`);
    assert.ok(lengths[0] <= 3, `row 0 ended at or before its 3rd token (${lengths[0]})`);
  }
});

test('stopWhen and an abort in the middle: the same result as the per-token path', async () => {
  if (skip) return;
  for (const c of [{ contrast: false }, { amateurLayer: 2, amateurPath: 'dense' }]) {
    const base = { maxNewTokens: NEW, eosTokenId: [], ...c };
    // stopWhen ends row 1 after 4 tokens and row 0 after 7; row 2 runs on
    const stopWhen = (row, tokens) => (row === 1 && tokens.length === 4) || (row === 0 && tokens.length === 7);
    const loop = await gen.generate(model, prompts, { ...base, stopWhen });
    const step = await withFused('step', () => gen.generate(model, prompts, { ...base, stopWhen }));
    assertSame(loop, step, `stopWhen ${JSON.stringify(c)}`);
    assert.equal(loop.map((r) => r.tokens.length), [7, 4, NEW]);
    // every row stopped: generation ends there (the loop is stopped; what it made after is dropped)
    const one = await gen.generate(model, prompts, { ...base, stopWhen: () => true });
    assert.equal(one.map((r) => r.tokens.length), [1, 1, 1]);
    // an abort from inside onToken after 5 tokens: both paths throw the reason after the same tokens
    const seen = {};
    for (const mode of [undefined, 'step']) {
      const ac = new AbortController();
      const got = [];
      const err = await withFused(mode, () =>
        gen.generate(model, [prompts[2]], {
          ...base,
          signal: ac.signal,
          onToken: (_r, t) => {
            got.push(t);
            if (got.length === 5) ac.abort(new Error('enough'));
          },
        }).then(() => null, (e) => e),
      );
      assert.ok(err && err.message === 'enough', `${mode ?? 'loop'}: throws the signal's reason (${err})`);
      seen[mode ?? 'loop'] = got;
    }
    assert.equal(seen.loop, seen.step);
    assert.is(seen.loop.length, 5);
  }
});

test('a stop string ends the text at the same place; stream() yields the same text through the loop', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const m = await gen.load(dir);
  try {
    const o = { contrast: false, maxNewTokens: 60 };
    const free = await gen.generate(m, 'Once upon a time', o);
    // a stop string from the middle of the free text
    const words = free.text.trim().split(/\s+/);
    const stop = words[Math.min(6, words.length - 1)];
    const loop = await gen.generate(m, 'Once upon a time', { ...o, stopStrings: [stop] });
    const step = await withFused('step', () => gen.generate(m, 'Once upon a time', { ...o, stopStrings: [stop] }));
    assert.ok(loop.timing.fused);
    assert.is(loop.finishReason, 'stop');
    assert.equal(loop.tokens, step.tokens);
    assert.is(loop.text, step.text);
    assert.ok(loop.tokens.length < free.tokens.length, 'the stop string ended generation early');
    let streamed = '';
    for await (const chunk of gen.stream(m, 'Once upon a time', o)) streamed += chunk;
    assert.is(streamed, free.text);
    // breaking out of a stream stops the loop; the model is usable right after
    let n = 0;
    for await (const _ of gen.stream(m, 'Once upon a time', o)) if (++n === 2) break;
    const again = await gen.generate(m, 'Once upon a time', o);
    assert.equal(again.tokens, free.tokens);
  } finally {
    m.dispose();
  }
});

test.run();
