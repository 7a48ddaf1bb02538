// The strategies' defining equalities again, this time through load() and generate() on a tiny model folder
// (random GPT-2 weights, exits 1 (trained head) and 2 (lens)): the path users run, native runtime, session
// raw outputs, the decoding pipeline and the selectors, instead of test/decoding's fake DecoderModel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gen, runtimeSkip, tinyFolder } from './helpers.mjs';

const skip = runtimeSkip();
const prompts = [[3, 5, 7], [11], [2, 9]];
const NEW = 12;
let model;
const tokens = (rs) => rs.map((r) => r.tokens);
const run = (options) => gen.generate(model, prompts, { maxNewTokens: NEW, eosTokenId: [], ...options });

test.before(async () => {
  if (skip) return;
  model = await gen.load(await tinyFolder());
});
test.after(() => model?.dispose());

test('greedy with alpha = 1 contrast equals plain greedy; alpha 0.1 changes something', async () => {
  if (skip) return;
  const plain = await run({ contrast: false });
  for (const amateurLayer of [1, 2]) {
    const acd1 = await run({ amateurLayer, alpha: 1 });
    assert.equal(tokens(acd1), tokens(plain), `amateur ${amateurLayer}`);
  }
  const acd = await run({ amateurLayer: 2, alpha: 0.1, mode: 'cd' });
  assert.not.equal(tokens(acd), tokens(plain), 'CD with alpha 0.1 changes the continuation on this model');
});

test('beam search with one beam equals greedy, plain and contrasted', async () => {
  if (skip) return;
  for (const o of [{ contrast: false }, { amateurLayer: 1, alpha: 0.1 }, { amateurLayer: 2, mode: 'cd' }]) {
    const greedy = await run(o);
    const beam = await run({ ...o, strategy: 'beam', numBeams: 1 });
    assert.equal(tokens(beam), tokens(greedy), JSON.stringify(o));
  }
});

test('top-k with k = 1 equals greedy whatever the seed and temperature', async () => {
  if (skip) return;
  const greedy = await run({ amateurLayer: 1 });
  for (const seed of [1, 2, 3]) {
    const k1 = await run({ amateurLayer: 1, strategy: 'top-k', topK: 1, seed, temperature: 1.7 });
    assert.equal(tokens(k1), tokens(greedy), `seed ${seed}`);
  }
});

test('seeded sampling is reproducible and the seed matters', async () => {
  if (skip) return;
  const a = await run({ strategy: 'sample', seed: 5, temperature: 2 });
  const b = await run({ strategy: 'sample', seed: 5, temperature: 2 });
  const c = await run({ strategy: 'sample', seed: 6, temperature: 2 });
  assert.equal(tokens(a), tokens(b));
  assert.not.equal(tokens(a), tokens(c));
});

test('generateTokens on the model decoder equals generate (one pipeline, token level and text level)', async () => {
  if (skip) return;
  const viaText = await run({ amateurLayer: 2, alpha: 0.2 });
  const plan = gen.contrastPlan(model, { amateurLayer: 2, alpha: 0.2 });
  const dec = model.decoder(plan, null);
  const lib = await import('../helpers/lib.mjs');
  const viaTokens = await lib.default.generateTokens(dec, prompts, { maxNewTokens: NEW, eosTokenId: [], contrast: { amateurLayer: 2, alpha: 0.2 } });
  assert.equal(viaTokens.sequences.map((s) => s[0].tokens), tokens(viaText));
  viaTokens.sequences.forEach((s, i) => {
    s[0].logProbs.forEach((lp, j) => assert.ok(Math.abs(lp - viaText[i].logProbs[j]) < 1e-6, `row ${i} token ${j}`));
  });
});

test.run();
