// Exits of kind 'raw' (transformers' DoLa early exits: the LM head on the residual stream without the final norm)
// against the float64 reference forward pass, for Llama (tied and untied heads) and GPT-2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildModel, expectRows, graph, maxDiff, runSequence } from './helpers.mjs';
import { referenceForward } from './reference-forward.mjs';

const TOKENS = [3, 17, 5, 29, 11, 2];
const CONFIGS = [
  ['llama, untied, reference graph', graph.TINY_LLAMA_CONFIG, 'reference'],
  ['llama, tied, reference graph', { ...graph.TINY_LLAMA_CONFIG, tieWordEmbeddings: true }, 'reference'],
  ['llama, untied, fused graph', graph.TINY_LLAMA_CONFIG, 'fused'],
  ['llama, tied, fused graph', { ...graph.TINY_LLAMA_CONFIG, tieWordEmbeddings: true }, 'fused'],
  ['gpt2', graph.TINY_GPT2_CONFIG, undefined],
];

for (const [name, config, graphForm] of CONFIGS) {
  test(`${name}: raw exits are the head on h_L (hidden = h_L), distinct from the logit lens`, async () => {
    const exits = [{ layer: 0, kind: 'raw' }, { layer: 2, kind: 'raw' }, { layer: config.numLayers, kind: 'raw', logits: false }];
    const model = await buildModel(config, { exits, ...(graphForm ? { graphForm } : {}) });
    try {
      const ref = referenceForward(config, model.weights, TOKENS);
      const out = await runSequence(model.session, model.manifest, TOKENS);
      for (const L of [0, 2]) {
        expectRows(assert, out[`exit.${L}.logits`], ref.rawLogits(L), 1e-4, `exit ${L} raw logits`);
        expectRows(assert, out[`exit.${L}.hidden`], ref.hiddens[L], 1e-4, `exit ${L} hidden`);
        assert.ok(maxDiff(ref.rawLogits(L)[0], ref.lensLogits(L)[0]) > 1e-3, 'the final norm matters');
      }
      expectRows(assert, out[`exit.${config.numLayers}.hidden`], ref.hiddens[config.numLayers], 1e-4, 'last raw hidden');
      assert.equal(model.manifest.exits.map((e) => e.kind), ['raw', 'raw', 'raw']);
    } finally {
      await model.session.release();
    }
  });
}

test.run();
