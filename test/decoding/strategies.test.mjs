// The strategies' defining equalities on a deterministic fake model (no ONNX Runtime needed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { fakeModel } from './fake-model.mjs';

const { generateTokens, topP, topK } = lib;
const prompts = [[3, 5, 7], [11], [2, 9]];
const seqs = (r) => r.sequences.map((s) => s[0].tokens);

test('greedy with alpha = 1 contrast equals plain greedy', async () => {
  const m = fakeModel({ vocabSize: 60 });
  const plain = await generateTokens(m, prompts, { maxNewTokens: 12 });
  const acd = await generateTokens(m, prompts, { maxNewTokens: 12, contrast: { amateurLayer: 2, alpha: 1 } });
  assert.equal(seqs(acd), seqs(plain));
  const acd01 = await generateTokens(m, prompts, { maxNewTokens: 12, contrast: { amateurLayer: 2, alpha: 0.1 } });
  assert.not.equal(seqs(acd01), seqs(plain), 'contrast with alpha 0.1 changes something on this model');
  assert.is(m.calls.sessions, m.calls.disposed, 'every session disposed');
});

test('beam search with one beam equals greedy (plain and contrasted)', async () => {
  const m = fakeModel({ vocabSize: 60 });
  for (const contrast of [false, { amateurLayer: 1, alpha: 0.1 }]) {
    const greedy = await generateTokens(m, prompts, { maxNewTokens: 10, contrast });
    const beam = await generateTokens(m, prompts, { strategy: 'beam', numBeams: 1, maxNewTokens: 10, contrast });
    assert.equal(seqs(beam), seqs(greedy));
  }
});

test('top-k with k = 1 equals greedy, whatever the seed and temperature', async () => {
  const m = fakeModel();
  const greedy = await generateTokens(m, prompts, { maxNewTokens: 10, contrast: { amateurLayer: 1 } });
  for (const seed of [1, 2, 3]) {
    const k1 = await generateTokens(m, prompts, { strategy: 'top-k', topK: 1, seed, temperature: 1.7, maxNewTokens: 10, contrast: { amateurLayer: 1 } });
    assert.equal(seqs(k1), seqs(greedy));
  }
});

test('seeded sampling is reproducible and the seed matters', async () => {
  const m = fakeModel({ scale: 1 });
  const a = await generateTokens(m, prompts, { strategy: 'sample', seed: 42, maxNewTokens: 20 });
  const b = await generateTokens(m, prompts, { strategy: 'sample', seed: 42, maxNewTokens: 20 });
  const c = await generateTokens(m, prompts, { strategy: 'sample', seed: 43, maxNewTokens: 20 });
  assert.equal(seqs(a), seqs(b));
  assert.not.equal(seqs(a), seqs(c));
});

test('batch results equal one-by-one results', async () => {
  const m = fakeModel();
  for (const options of [{}, { contrast: { amateurLayer: 1 } }, { strategy: 'beam', numBeams: 3 }]) {
    const all = await generateTokens(m, prompts, { maxNewTokens: 8, ...options });
    for (let i = 0; i < prompts.length; i++) {
      const one = await generateTokens(m, [prompts[i]], { maxNewTokens: 8, ...options });
      assert.equal(all.sequences[i][0].tokens, one.sequences[0][0].tokens);
    }
  }
});

test('beam search returns sequences sorted by score, each score the penalised sum of its log-probs', async () => {
  const m = fakeModel({ scale: 1.5 });
  for (const lengthPenalty of [1, 0, 2]) {
    const r = await generateTokens(m, prompts, { strategy: 'beam', numBeams: 4, numReturnSequences: 4, maxNewTokens: 9, lengthPenalty, contrast: { amateurLayer: 1, alpha: 0.05 } });
    for (const list of r.sequences) {
      assert.ok(list.length >= 1 && list.length <= 4);
      for (let i = 1; i < list.length; i++) assert.ok(list[i - 1].score >= list[i].score, 'sorted');
      for (const s of list) {
        const sum = s.logProbs.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(s.score - sum / s.tokens.length ** lengthPenalty) < 1e-4, `score ${s.score} vs ${sum} / ${s.tokens.length}^${lengthPenalty}`);
        assert.is(s.tokens.length, s.logProbs.length);
      }
    }
  }
});

test('beam search finds a sequence at least as likely as greedy', async () => {
  const m = fakeModel({ scale: 2 });
  const greedy = await generateTokens(m, [prompts[0]], { maxNewTokens: 6, eosTokenId: [] });
  const beam = await generateTokens(m, [prompts[0]], { strategy: 'beam', numBeams: 5, maxNewTokens: 6, lengthPenalty: 0, eosTokenId: [] });
  const sum = (s) => s.logProbs.reduce((a, b) => a + b, 0);
  assert.ok(sum(beam.sequences[0][0]) >= sum(greedy.sequences[0][0]) - 1e-5);
});

test('EOS, minNewTokens, maxNewTokens and stopWhen end sequences as documented', async () => {
  const m = fakeModel({ vocabSize: 8, scale: 0.5 });
  const r = await generateTokens(m, [[1]], { strategy: 'sample', seed: 3, maxNewTokens: 50 });
  const s = r.sequences[0][0];
  if (s.finishReason === 'eos') assert.is(s.tokens[s.tokens.length - 1], 0);
  else assert.is(s.tokens.length, 50);
  const min = await generateTokens(m, [[1]], { strategy: 'sample', seed: 3, maxNewTokens: 30, minNewTokens: 30 });
  assert.not.ok(min.sequences[0][0].tokens.includes(0), 'no EOS before minNewTokens');
  const stop = await generateTokens(m, [[1]], { maxNewTokens: 30, stopWhen: (row, toks) => toks.length === 4 });
  assert.is(stop.sequences[0][0].tokens.length, 4);
  assert.is(stop.sequences[0][0].finishReason, 'stop');
});

test('top-p keeps the smallest nucleus reaching p, including the token that crosses it (exact boundary)', () => {
  // probabilities 0.5, 0.25, 0.125, 0.125: p = 0.75 is reached exactly by the first two.
  const s = Float32Array.from([0.5, 0.25, 0.125, 0.125].map(Math.log));
  topP(0.75).process(s, { row: 0, tokens: [], generated: 0 });
  assert.equal(Array.from(s, (x) => x > -Infinity), [true, true, false, false]);
  const t = Float32Array.from([0.5, 0.25, 0.125, 0.125].map(Math.log));
  topP(0.76).process(t, { row: 0, tokens: [], generated: 0 });
  assert.equal(Array.from(t, (x) => x > -Infinity), [true, true, true, false]);
  const u = Float32Array.from([0.9, 0.05, 0.05].map(Math.log));
  topP(0.5, 2).process(u, { row: 0, tokens: [], generated: 0 });
  assert.equal(Array.from(u, (x) => x > -Infinity), [true, true, false], 'minTokensToKeep');
  const k = Float32Array.from([1, 3, 3, 2]);
  topK(2).process(k, { row: 0, tokens: [], generated: 0 });
  assert.equal(Array.from(k, (x) => x > -Infinity), [false, true, true, false]);
});

test('custom processors run after the built-in ones', async () => {
  const m = fakeModel();
  const ban = { name: 'ban5', process(scores) { scores[5] = -Infinity; } };
  const r = await generateTokens(m, [[5]], { maxNewTokens: 15, processors: [ban], eosTokenId: [] });
  assert.not.ok(r.sequences[0][0].tokens.includes(5));
});

test('bad options and prompts are clear errors', async () => {
  const m = fakeModel();
  const bad = [
    [[[]], {}, RangeError, /Prompt 0 is empty/],
    [[], {}, TypeError, /at least one prompt/],
    [[[1e6]], {}, RangeError, /outside/],
    [[[1]], { strategy: 'nucleus' }, TypeError, /strategy/],
    [[[1]], { topK: 5 }, RangeError, /topK is for strategy 'top-k'/],
    [[[1]], { strategy: 'greedy', temperature: 0.5 }, RangeError, /temperature is for sampling/],
    [[[1]], { minNewTokens: 10, maxNewTokens: 5 }, RangeError, /minNewTokens/],
    [[[1]], { strategy: 'beam', numBeams: 2, numReturnSequences: 3 }, RangeError, /numReturnSequences/],
    [[[1]], { maxNewTokns: 5 }, TypeError, /Unknown generation option 'maxNewTokns'/],
    [[[1]], { contrast: { alpha: 0.1 } }, TypeError, /amateurLayer/],
    [[[1]], { strategy: 'top-p', topP: 0 }, RangeError, /topP/],
  ];
  for (const [p, o, Kind, re] of bad) {
    try {
      await generateTokens(m, p, o);
      assert.unreachable(`no error for ${JSON.stringify(o)}`);
    } catch (e) {
      assert.instance(e, Kind, `${JSON.stringify(o)}: ${e.message}`);
      assert.match(e.message, re);
    }
  }
});

test('an AbortSignal stops generation', async () => {
  const m = fakeModel();
  const ac = new AbortController();
  const p = generateTokens(m, [[1]], { maxNewTokens: 1000, eosTokenId: [], onToken: (r, t) => { if (t >= 0) ac.abort(new Error('stop now')); } , signal: ac.signal });
  try { await p; assert.unreachable(); } catch (e) { assert.match(e.message, /stop now/); }
  assert.is(m.calls.sessions, m.calls.disposed);
});

test.run();
