// Deterministic mode (issue 11, item 4) on tiny models (fused Llama graph, float32 and 4-bit MatMulNBits
// weights): a row's logits and its generated tokens and log-probabilities are the same bits whatever the batch
// size (1, 2, 8, 16), the lengths of its neighbours, where its prompt was split between prefill and steps, and
// the number of ONNX Runtime threads. The default model is checked in test/generate/default-model.test.mjs.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { generate, load, resolveGeneration } from 'autocontrast';
// Internal: writes a built graph as a model folder (the public convert starts from GGUF or safetensors files).
import convertPkg from '../../dist/model/convert/write-built-folder.js';
import { randomQ4 } from '../convert/random-q4.mjs';
import { bits, sessionBits } from '../helpers/determinism.mjs';
import * as h from './helpers.mjs';

const skip = h.skipReason();

const CFG = {
  architecture: 'llama', numLayers: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, vocabSize: 64,
  contextLength: 64, intermediateSize: 96, normEpsilon: 1e-5, tieWordEmbeddings: true, ropeTheta: 10000, rotary: 'half',
};

/** A fused tiny Llama folder with an exit at layer 1 (hidden and logits); 4-bit linear weights with `q4`. */
async function folder(q4) {
  const base = h.graph.tinyDecoderWeights(CFG, 5, { std: 0.2, vectorStd: 0.1 });
  const weights = new Map(base);
  let seed = 100;
  if (q4) for (const [name, w] of base) if (/_proj\.weight$/.test(name)) weights.set(name, randomQ4(/mlp/.test(name) ? 'q4_1' : 'q4_0', w.dims[0], w.dims[1], seed++));
  const built = h.graph.buildDecoderGraph(CFG, weights, {
    logitPositions: 'input',
    exits: [{ layer: 1, kind: 'lens' }],
    graphForm: 'fused',
    ...(q4 ? { matMulNBits: { accuracyLevel: 0 } } : {}),
  });
  const dir = path.join(h.tempDir(), 'model');
  await convertPkg.writeBuiltFolder(dir, built, {});
  return dir;
}

const V = CFG.vocabSize;
const PROMPT = h.tokens(7, V, 3);
const neighbours = (n, salt) => Array.from({ length: n }, (_, i) => h.tokens(1 + ((i * 5 + salt) % 13), V, 50 + i + salt));
/** The batch of `n` rows with PROMPT at row `at` and neighbours of 1..13 tokens. */
const batchWith = (n, at, salt = 0) => neighbours(n, salt).map((p, i) => (i === at ? PROMPT : p));
const key = (r) => JSON.stringify([r.tokens, bits(r.logProbs)]);
const PLAN = { layer: 1, mode: 'acd', alpha: 0.1, minCandidates: 1, path: 'dense' };
const sessionRows = (model, prompts, row, forced, split) => sessionBits(model, PLAN, prompts, row, forced, { split, maxLength: 40 });

if (skip) {
  test('deterministic mode', () => {});
} else {
  for (const q4 of [false, true]) {
    const form = q4 ? 'q4 (MatMulNBits, accuracy_level 0)' : 'float32';
    test(`${form}: deterministic logits are bit-identical over batch 1/2/8/16, neighbours, prompt splits and threads`, async () => {
      const dir = await folder(q4);
      const forced = h.tokens(4, V, 9);
      let reference;
      for (const threads of [1, 2, 3]) {
        const model = await load(dir, { intraOpThreads: threads });
        try {
          const alone = await sessionRows(model, [PROMPT], 0, forced);
          reference ??= alone;
          assert.equal(alone, reference, `threads ${threads}: batch 1 differs from threads 1`);
          if (threads !== 2) continue;
          for (const [n, at] of [[2, 1], [8, 3], [16, 11]]) {
            assert.equal(await sessionRows(model, batchWith(n, at), at, forced), reference, `batch ${n} (row ${at}) differs from batch 1`);
          }
          // the same prompt split after 1 and after 4 tokens (a batch-3 session: the other rows are copies)
          for (const split of [1, 4]) {
            assert.equal(await sessionRows(model, [PROMPT, PROMPT, PROMPT], 1, forced, split), reference, `prompt split after ${split} tokens differs`);
          }
        } finally {
          model.dispose();
        }
      }
    });

    // Sampling is left out: its seeded generator is one stream shared by the batch's rows (docs/determinism.md).
    test(`${form}: deterministic generate (ACD greedy, beam) gives each prompt the same bits in any batch`, async () => {
      const dir = await folder(q4);
      const model = await load(dir, { intraOpThreads: 2 });
      try {
        const cases = [
          { amateurLayer: 1, maxNewTokens: 6 },
          { amateurLayer: 1, maxNewTokens: 6, mode: 'cd' },
          { contrast: false, maxNewTokens: 5, strategy: 'beam', numBeams: 3, numReturnSequences: 2 },
        ];
        for (const options of cases) {
          const opts = { ...options, deterministic: true, eosTokenId: [] };
          const alone = await generate(model, [PROMPT], opts);
          const want = alone[0].sequences.map(key);
          for (const [n, at] of [[2, 0], [8, 5]]) {
            const got = await generate(model, batchWith(n, at, n), opts);
            assert.equal(got[at].sequences.map(key), want, `${JSON.stringify(options)}: batch ${n} row ${at}`);
          }
        }
      } finally {
        model.dispose();
      }
    });
  }

  test('deterministic is checked like every option, and false is the default', async () => {
    assert.throws(() => resolveGeneration({ deterministic: 'yes' }), (e) => e.code === 'ERR_INVALID_ARG_TYPE' && /deterministic/.test(e.message));
    assert.is(resolveGeneration({}).deterministic, false);
    assert.is(resolveGeneration({ deterministic: true }).deterministic, true);
  });
}
test.run();
