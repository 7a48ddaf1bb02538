// The scoring fast path (one forward run over all positions, batched, every exit and every contrast from it)
// against token-by-token stepping through the decode runtime, which generate uses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gen, rejection, runtimeSkip, storiesFolder, tinyScoringFolder, tokens } from './helpers.mjs';

const skip = runtimeSkip();

function maxDiff(a, b) {
  assert.is(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('tiny model: fast score equals stepping to 1e-4, plain, dense, sparse and trained-head amateurs, acd and cd', async () => {
  if (skip) return;
  const { dir, config } = await tinyScoringFolder();
  const m = await gen.load(dir);
  assert.is(config.numLayers >= 4, true, 'the tiny config has room for exits 1-3');
  const ids = tokens(23, config.vocabSize, 5);
  const cases = [
    { contrast: false },
    { contrast: true, amateurLayer: 1, amateurPath: 'dense' },
    { contrast: true, amateurLayer: 2 },
    { contrast: true, amateurLayer: 3, mode: 'cd', alpha: 0.05 },
    { contrast: true, amateurLayer: 1, alpha: 0.3, minCandidates: 3 },
  ];
  for (const c of cases) {
    const fast = await gen.score(m, ids, c);
    const plan = gen.contrastPlan(m, { contrast: false, ...c });
    const slow = await gen.scoreByStepping(m, ids, plan, null);
    const d = maxDiff(fast.logProbs.map((x) => (Number.isFinite(x) ? x : -1e9)), slow.logProbs.map((x) => (Number.isFinite(x) ? x : -1e9)));
    assert.ok(d < 1e-4, `${JSON.stringify(c)}: max |fast - stepping| = ${d}`);
    assert.equal(fast.greedy, slow.greedy, JSON.stringify(c));
    assert.ok(fast.greedy.length === ids.length - 1);
  }
  m.dispose();
});

test('tiny model: top option: each distribution\'s N most likely tokens, sorted, from the same arithmetic as the scored token', async () => {
  if (skip) return;
  const { dir, config } = await tinyScoringFolder();
  const m = await gen.load(dir);
  const ids = tokens(19, config.vocabSize, 7);
  const N = 4;
  const [r] = await gen.scoreBatch(m, [{ ids, from: 1 }], { exits: [1], amateurs: [2], alpha: 0.1, top: N });
  const [bare] = await gen.scoreBatch(m, [{ ids, from: 1 }], { exits: [1], amateurs: [2], alpha: 0.1 });
  assert.is(bare.expert.top, undefined);
  const slow = await gen.scoreByStepping(m, ids, null, null);
  for (const [name, s, b] of [['expert', r.expert, bare.expert], ['exit 1', r.exits.get(1), bare.exits.get(1)], ['contrast 2', r.contrast.get(2), bare.contrast.get(2)]]) {
    assert.equal([...s.logProbs], [...b.logProbs], `${name}: asking for top changes nothing else`);
    for (let j = 0; j < s.logProbs.length; j++) {
      const top = s.top[j];
      assert.is(top.length, N);
      for (let k = 1; k < N; k++) assert.ok(top[k - 1].logprob >= top[k].logprob, `${name} position ${j} sorted`);
      // The scored token is the arg-max exactly when it heads the list, with the very same value.
      assert.is(top[0].token === ids[j + 1], s.greedy[j] === 1, `${name} position ${j}`);
      if (s.greedy[j] === 1) assert.is(top[0].logprob, s.logProbs[j]);
      const mine = top.find((t) => t.token === ids[j + 1]);
      if (mine) assert.is(mine.logprob, s.logProbs[j]);
      else assert.ok(s.logProbs[j] <= top[N - 1].logprob);
    }
  }
  // The expert's list against the stepped distribution (an independent path): the probabilities sum below 1.
  for (let j = 0; j < r.expert.logProbs.length; j++) {
    const mass = r.expert.top[j].reduce((a, t) => a + Math.exp(t.logprob), 0);
    assert.ok(mass <= 1 + 1e-6 && mass > 0);
    assert.ok(Math.abs(r.expert.logProbs[j] - slow.logProbs[j]) < 1e-4);
  }
  m.dispose();
});

test('tiny model: one batched run (left-padded, uneven lengths) equals each item scored alone, for every exit and amateur', async () => {
  if (skip) return;
  const { dir, config } = await tinyScoringFolder();
  const m = await gen.load(dir);
  const items = [
    { ids: tokens(17, config.vocabSize, 1), from: 9 },
    { ids: tokens(6, config.vocabSize, 2), from: 1 },
    { ids: tokens(11, config.vocabSize, 3), from: 10 },
  ];
  const o = { exits: [1, 2, 3], amateurs: [1, 2, 3], alpha: 0.1 };
  const batched = await gen.scoreBatch(m, items, o);
  for (let i = 0; i < items.length; i++) {
    const [alone] = await gen.scoreBatch(m, [items[i]], o);
    assert.equal(batched[i].tokens, items[i].ids.slice(items[i].from));
    assert.ok(maxDiff(batched[i].expert.logProbs, alone.expert.logProbs) < 1e-4, `item ${i} expert`);
    for (const L of [1, 2, 3]) {
      assert.ok(maxDiff(batched[i].exits.get(L).logProbs, alone.exits.get(L).logProbs) < 1e-4, `item ${i} exit ${L}`);
      assert.ok(maxDiff(batched[i].contrast.get(L).logProbs, alone.contrast.get(L).logProbs) < 1e-4, `item ${i} contrast ${L}`);
    }
    // the plain scores equal score() on the whole text at the scored positions
    const whole = await gen.score(m, items[i].ids, { contrast: false });
    assert.ok(maxDiff(batched[i].expert.logProbs, whole.logProbs.slice(items[i].from - 1)) < 1e-4);
  }
  // each exit alone equals plain early-exit stepping from that exit
  for (const L of [1, 2, 3]) {
    const ex = gen.expertPlan(m, { expertLayer: L });
    const slow = await gen.scoreByStepping(m, items[0].ids, null, ex);
    assert.ok(maxDiff(batched[0].exits.get(L).logProbs, slow.logProbs.slice(items[0].from - 1)) < 1e-4, `exit ${L} alone`);
    assert.equal(Array.from(batched[0].exits.get(L).greedy, (g) => g === 1), slow.greedy.slice(items[0].from - 1));
  }
  m.dispose();
});

test('a layer without an exit is refused with a message naming it; a last-position graph falls back to stepping', async () => {
  if (skip) return;
  const { dir, config } = await tinyScoringFolder();
  const m = await gen.load(dir);
  const ids = tokens(8, config.vocabSize, 9);
  assert.match((await rejection(() => gen.scoreBatch(m, [{ ids, from: 1 }], { exits: [config.numLayers + 3] }))).message, /layer 7 has no exit/);
  assert.match((await rejection(() => gen.scoreBatch(m, [{ ids, from: 0 }]))).message, /from must be/);
  m.dispose();
  const last = await tinyScoringFolder('last');
  const m2 = await gen.load(last.dir);
  const r = await gen.score(m2, ids, { contrast: false });
  assert.is(r.logProbs.length, ids.length - 1);
  assert.is((await rejection(() => gen.scoreBatch(m2, [{ ids, from: 1 }]))).code, 'SCORING_UNSUPPORTED');
  m2.dispose();
});

test('rolling windows: a text longer than the window is scored once per token, each with its window of context', async () => {
  if (skip) return;
  // the windows themselves, derived by hand: inputs of at most 4 tokens, 3 new tokens per window
  assert.equal(gen.windowItems([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4, 3), [
    { ids: [0, 1, 2, 3], from: 1 },
    { ids: [2, 3, 4, 5, 6], from: 2 },
    { ids: [5, 6, 7, 8, 9], from: 2 },
  ]);
  const { dir, config } = await tinyScoringFolder();
  const m = await gen.load(dir);
  const ids = tokens(30, config.vocabSize, 13);
  const r = await gen.score(m, ids, { contrast: false, window: 8, stride: 5 });
  assert.is(r.logProbs.length, 29);
  let k = 0;
  for (const w of gen.windowItems(ids, 8, 5)) {
    assert.ok(w.ids.length - 1 <= 8);
    const slow = await gen.scoreByStepping(m, w.ids, null, null);
    const want = slow.logProbs.slice(w.from - 1);
    assert.ok(maxDiff(r.logProbs.slice(k, k + want.length), want) < 1e-4);
    k += want.length;
  }
  assert.is(k, 29);
  // the first window (5 new tokens) sees the same context as the whole text
  const whole = await gen.score(m, ids.slice(0, 9), { contrast: false });
  assert.ok(maxDiff(whole.logProbs.slice(0, 5), r.logProbs.slice(0, 5)) < 1e-4);
  m.dispose();
});

test('stories260K (real weights): fast score equals stepping to 1e-4, plain and contrasted', async () => {
  if (skip) return;
  const dir = await storiesFolder();
  if (!dir) return;
  const m = await gen.load(dir);
  const text = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
  for (const c of [{ contrast: false }, { contrast: true, amateurLayer: 2 }, { contrast: true, amateurLayer: 4, mode: 'cd' }]) {
    const fast = await gen.score(m, text, c);
    const slow = await gen.scoreByStepping(m, fast.tokens, gen.contrastPlan(m, { contrast: false, ...c }), null);
    const fin = (a) => a.map((x) => (Number.isFinite(x) ? x : -1e9));
    const d = maxDiff(fin(fast.logProbs), fin(slow.logProbs));
    assert.ok(d < 1e-4, `${JSON.stringify(c)}: ${d}`);
    assert.equal(fast.greedy, slow.greedy);
  }
  m.dispose();
});

test('tiny model: a layer chosen per position (dola, acd / cd with amateurLayer auto) equals stepping, layer for layer', async () => {
  if (skip) return;
  const { dir, config } = await tinyScoringFolder();
  const m = await gen.load(dir);
  const ids = tokens(21, config.vocabSize, 17);
  const cases = [
    { contrast: true, mode: 'dola', dolaLayers: [1, 2] },
    { contrast: true, mode: 'dola', dolaLayers: [2, 1], alpha: 0.3 },
    { contrast: true, amateurLayer: 'auto', dolaLayers: [1, 2] },
    { contrast: true, amateurLayer: 'auto', mode: 'cd', dolaLayers: [1, 2], alpha: 0.05 },
  ];
  let seen = new Set();
  for (const c of cases) {
    const fast = await gen.score(m, ids, c);
    const slow = await gen.scoreByStepping(m, ids, gen.contrastPlan(m, c), null);
    assert.is(fast.amateurLayers.length, ids.length - 1);
    assert.equal(fast.amateurLayers, slow.amateurLayers, JSON.stringify(c));
    for (const L of fast.amateurLayers) seen.add(L);
    const fin = (a) => a.map((x) => (Number.isFinite(x) ? x : -1e9));
    const d = maxDiff(fin(fast.logProbs), fin(slow.logProbs));
    assert.ok(d < 1e-4, `${JSON.stringify(c)}: max |fast - stepping| = ${d}`);
    assert.equal(fast.greedy, slow.greedy, JSON.stringify(c));
  }
  assert.equal([...seen].sort(), [1, 2], 'both candidates are chosen somewhere (the test exercises the choice)');
  // one candidate: auto is that layer as a fixed amateur
  const auto = await gen.score(m, ids, { contrast: true, amateurLayer: 'auto', dolaLayers: [2] });
  const fixed = await gen.score(m, ids, { contrast: true, amateurLayer: 2 });
  const dAuto = maxDiff(auto.logProbs, fixed.logProbs);
  assert.ok(dAuto < 1e-4, `auto with one candidate vs fixed: ${dAuto}`);
  assert.equal(auto.amateurLayers, ids.slice(1).map(() => 2));
  // batched with uneven lengths: each item as scored alone
  const items = [{ ids: tokens(15, config.vocabSize, 1), from: 6 }, { ids: tokens(7, config.vocabSize, 2), from: 1 }];
  const select = { candidates: [1, 2], mode: 'dola' };
  const batched = await gen.scoreBatch(m, items, { select });
  for (let i = 0; i < items.length; i++) {
    const [alone] = await gen.scoreBatch(m, [items[i]], { select });
    // DoLa gives -Infinity outside the head: compared as a large negative number
    const fin = (a) => Array.from(a, (x) => (Number.isFinite(x) ? x : -1e9));
    assert.ok(maxDiff(fin(batched[i].selected.logProbs), fin(alone.selected.logProbs)) < 1e-4, `item ${i}`);
    assert.equal([...batched[i].selected.layers], [...alone.selected.layers]);
  }
  assert.match((await rejection(() => gen.scoreBatch(m, items, { select: { candidates: [7], mode: 'acd' } }))).message, /candidate layer 7 has no hidden-state exit/);
  assert.match((await rejection(() => gen.scoreBatch(m, items, { select: { candidates: [2, 3], mode: 'dola' } }))).message, /do not share one head matrix/);
  m.dispose();
});

test.run();
