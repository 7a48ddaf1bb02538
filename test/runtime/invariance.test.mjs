// Invariance on float32 weights (issue 11, item 3): the logits of a sequence's position do not depend on how its
// prompt was split between prefill and decode steps, on the batch size, or on which other sequences share the
// batch (their lengths set the left padding). Max |diff| < 1e-4 against the sequence decoded alone, on tiny
// models of each graph form: GPT-2, Llama (reference graph) and Llama (fused graph).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as h from './helpers.mjs';

const TOL = 1e-4;
const STEPS = 5;
const skip = h.skipReason();
const MODELS = [
  ['gpt2', h.graph.TINY_GPT2_CONFIG, {}],
  ['llama reference graph', h.graph.TINY_LLAMA_CONFIG, {}],
  ['llama fused graph', { ...h.graph.TINY_LLAMA_CONFIG, headDim: 16 }, { graphForm: 'fused' }],
];

/** Logits after the prompt and after each of `forced` tokens, for row `row` of a batch of `prompts`. */
async function decode(native, prompts, row, forced, V) {
  const seq = native.createSequence({ batch: prompts.length, maxLength: 32 });
  const logs = [];
  let out = await seq.prefill(prompts);
  logs.push(out.logits.slice(row * V, (row + 1) * V));
  for (const t of forced) {
    // every row gets the same forced token: neighbours' continuations do not matter here
    out = await seq.step(prompts.map(() => t));
    logs.push(out.logits.slice(row * V, (row + 1) * V));
  }
  seq.dispose();
  return logs;
}

const worst = (a, b) => Math.max(...a.map((x, i) => h.maxAbsDiff(x, b[i])));

if (skip) {
  test('invariance tests', () => {});
} else {
  for (const [name, cfg, opts] of MODELS) {
    test(`${name}: prompt split, batch size 2 / 8 and neighbours of other lengths leave the logits unchanged`, async () => {
      const folder = await h.buildModelFolder(cfg, { ...opts });
      const native = await h.rt.loadModel(folder.dir);
      const V = cfg.vocabSize;
      const prompt = h.tokens(6, V, 5);
      const forced = h.tokens(STEPS, V, 6);
      const alone = await decode(native, [prompt], 0, forced, V);

      // split: prefill 2 tokens, then the other 4 prompt tokens as decode steps
      const seq = native.createSequence({ batch: 1, maxLength: 32 });
      let out = await seq.prefill([prompt.slice(0, 2)]);
      for (const t of prompt.slice(2)) out = await seq.step([t]);
      const split = [out.logits.slice()];
      for (const t of forced) split.push((await seq.step([t])).logits.slice());
      seq.dispose();
      const dSplit = worst(split, alone);
      assert.ok(dSplit < TOL, `prompt split: max |diff| ${dSplit}`);

      // batch 2 with a longer neighbour (the prompt is left-padded), batch 8 with neighbours of 1..11 tokens
      const two = [h.tokens(10, V, 7), prompt];
      const d2 = worst(await decode(native, two, 1, forced, V), alone);
      assert.ok(d2 < TOL, `batch 2: max |diff| ${d2}`);
      const eight = Array.from({ length: 8 }, (_, i) => (i === 3 ? prompt : h.tokens(1 + ((i * 3) % 11), V, 40 + i)));
      const d8 = worst(await decode(native, eight, 3, forced, V), alone);
      assert.ok(d8 < TOL, `batch 8: max |diff| ${d8}`);
      // other neighbours, same batch size: the row does not see them
      const eight2 = eight.map((p, i) => (i === 3 ? p : h.tokens(p.length, V, 90 + i)));
      const d8b = worst(await decode(native, eight2, 3, forced, V), alone);
      assert.ok(d8b < TOL, `batch 8, other neighbours: max |diff| ${d8b}`);
      native.dispose();
    });
  }
}
test.run();
