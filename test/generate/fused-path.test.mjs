// The fused native step (contrast, log-softmax, temperature, top-k, top-p and the argmax or seeded draw in one
// native call: native/kernels/select.cc) against the decoding chain step by step (src/decoding: kernel call,
// log-softmax, processors, selector), through load() + generate() on a tiny model folder with dense exit logits.
// Same tokens for the same seed, log-probabilities equal to float rounding, and the fused step really ran; plain
// decoding (no contrast: the expert's own log-softmax) and the sparse amateur (exit hidden state x head rows)
// take the same fused path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gen, runtimeSkip, tinyFolder } from './helpers.mjs';

const skip = runtimeSkip();
const prompts = [[3, 5, 7], [11], [2, 9, 4, 4]];
const NEW = 16;
let model;

/** Runs `options` twice: fused (the default) and with AUTOCONTRAST_FUSED=0 (the chain). */
async function both(options) {
  const o = { maxNewTokens: NEW, eosTokenId: [], ...(options.contrast === false ? {} : { amateurPath: 'dense' }), ...options };
  const fused = await gen.generate(model, prompts, o);
  process.env.AUTOCONTRAST_FUSED = '0';
  try {
    const chain = await gen.generate(model, prompts, o);
    return { fused, chain };
  } finally {
    delete process.env.AUTOCONTRAST_FUSED;
  }
}

test.before(async () => {
  if (skip) return;
  model = await gen.load(await tinyFolder());
});
test.after(() => model?.dispose());

const cases = [
  { amateurLayer: 2 },
  { amateurLayer: 1, alpha: 0.3 },
  { amateurLayer: 2, mode: 'cd' },
  { amateurLayer: 1, mode: 'cd', beta: 0.5, alpha: 0.05 },
  { amateurLayer: 2, strategy: 'sample', temperature: 1.7, seed: 3 },
  { amateurLayer: 1, strategy: 'sample', seed: -12345678901 },
  { amateurLayer: 2, strategy: 'top-k', topK: 3, temperature: 0.8, seed: 9 },
  { amateurLayer: 2, strategy: 'top-p', topP: 0.7, seed: 2 ** 40 + 7 },
  { amateurLayer: 1, mode: 'cd', strategy: 'top-p', topP: 0.95, temperature: 3, seed: 1 },
  { contrast: false },
  { contrast: false, strategy: 'top-k', topK: 5, temperature: 1.2, seed: 8 },
  { amateurLayer: 1, amateurPath: 'sparse' },
  { amateurLayer: 2, amateurPath: 'sparse', mode: 'cd', strategy: 'top-p', topP: 0.9, seed: 6 },
];

test('fused step equals the chain: same tokens, same log-probabilities, for every fusable strategy', async () => {
  if (skip) return;
  let sampledDiffers = 0;
  for (const c of cases) {
    const { fused, chain } = await both(c);
    const what = JSON.stringify(c);
    fused.forEach((r, i) => {
      assert.ok(r.timing.fused, `${what}: the fused step ran`);
      assert.not.ok(chain[i].timing.fused, `${what}: the chain ran`);
      assert.equal(r.tokens, chain[i].tokens, `${what} row ${i}`);
      r.logProbs.forEach((lp, j) => assert.ok(Math.abs(lp - chain[i].logProbs[j]) < 1e-5, `${what} row ${i} token ${j}: ${lp} vs ${chain[i].logProbs[j]}`));
    });
    if (c.strategy && fused.some((r, i) => r.tokens.join() !== fused[0].tokens.join())) sampledDiffers++;
  }
  assert.ok(sampledDiffers > 0, 'sampled rows are not all the same continuation (the draws matter)');
});

test('a row draws from its own stream: its tokens do not depend on the rows beside it', async () => {
  if (skip) return;
  const o = { maxNewTokens: NEW, eosTokenId: [], amateurLayer: 2, amateurPath: 'dense', strategy: 'sample', temperature: 1.5, seed: 11 };
  const batch = await gen.generate(model, prompts, o);
  // Row 0 alone is stream 0 again; the same row as the first of another batch too.
  const alone = await gen.generate(model, [prompts[0]], o);
  assert.equal(alone[0].tokens, batch[0].tokens);
  const other = await gen.generate(model, [prompts[0], [1, 1]], o);
  assert.equal(other[0].tokens, batch[0].tokens);
});

test('what the fused step cannot do runs the chain (repetition penalty, min length, processors, beam)', async () => {
  if (skip) return;
  const base = { maxNewTokens: 4, eosTokenId: [0], amateurLayer: 2, amateurPath: 'dense' };
  for (const extra of [{ repetitionPenalty: 1.3 }, { minNewTokens: 2 }, { strategy: 'beam', numBeams: 2 }, { amateurPath: 'sparse', repetitionPenalty: 1.1 }, { contrast: false, amateurLayer: undefined, amateurPath: undefined, repetitionPenalty: 1.2 }]) {
    const o = { ...base, ...extra };
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    const r = await gen.generate(model, [prompts[0]], o);
    assert.not.ok(r[0].timing.fused, JSON.stringify(extra));
  }
  const r = await gen.generate(model, [prompts[0]], { ...base, processors: [{ name: 'noop', process() {} }] });
  assert.not.ok(r[0].timing.fused, 'a user processor');
});

test.run();
