import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convert } from 'autocontrast/convert';
import { validateModelFolder } from 'autocontrast/manifest';
import stPkg from 'autocontrast/safetensors';
import { graph, randomMatrix } from './hf-checkpoints.mjs';
import { gptNeoForward, tinyGptNeoWeights } from './gpt-neo-reference.mjs';
import { maxDiff, ort, runStep, tempDir } from './helpers.mjs';

const CFG = {
  numLayers: 4, hiddenSize: 16, numHeads: 4, vocabSize: 40, contextLength: 32, intermediateSize: 64,
  normEpsilon: 1e-5, attentionLayers: ['global', 'local', 'global', 'local'], windowSize: 3,
};
const IDS = [3, 17, 5, 29, 11, 0, 38, 7, 21];

function writeNeo(dir, weights, extra = {}) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    model_type: 'gpt_neo', num_layers: CFG.numLayers, hidden_size: CFG.hiddenSize, num_heads: CFG.numHeads,
    vocab_size: CFG.vocabSize, max_position_embeddings: CFG.contextLength, intermediate_size: CFG.intermediateSize,
    layer_norm_epsilon: CFG.normEpsilon, activation_function: 'gelu_new', window_size: CFG.windowSize,
    attention_types: [[['global', 'local'], 2]], bos_token_id: 0, eos_token_id: 0, ...extra,
  }));
  const entries = [...weights].map(([k, w]) => [k.startsWith('name_to_') ? k : `transformer.${k}`, { shape: w.dims, data: w.data }]);
  for (let l = 0; l < CFG.numLayers; l++) {
    entries.push([`transformer.h.${l}.attn.attention.masked_bias`, { shape: [], data: new Float32Array([-1e9]) }]);
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors'), stPkg.encodeSafetensors(new Map(entries)));
}

function expectClose(tensor, ref, label, tol = 2e-4) {
  const [, T, V] = tensor.dims;
  assert.is(T, ref.length);
  for (let t = 0; t < T; t++) {
    const d = maxDiff(tensor.data.subarray(t * V, (t + 1) * V), ref[t]);
    assert.ok(d < tol, `${label} position ${t}: max diff ${d}`);
  }
}

test('GPT-Neo (local/global attention, unscaled): converts and matches a float64 reference; KV-cache steps agree', async () => {
  const weights = tinyGptNeoWeights(CFG, graph.mulberry32(9));
  const dir = path.join(tempDir(), 'neo');
  writeNeo(dir, weights);
  const out = path.join(tempDir(), 'model');
  const res = await convert(dir, { out, exits: [1, 2] });
  assert.is(res.manifest.config.architecture, 'gpt-neo');
  await validateModelFolder(out);
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  const o = await runStep(session, res.manifest, IDS);
  const ref = gptNeoForward(CFG, weights, IDS);
  expectClose(o.logits, ref.logits, 'logits');
  expectClose(o['exit.2.logits'], ref.lensLogits(2), 'exit 2');
  // the window matters: positions past it differ from an all-global model
  const globalRef = gptNeoForward({ ...CFG, attentionLayers: ['global', 'global', 'global', 'global'] }, weights, IDS);
  assert.ok(maxDiff(ref.logits[8], globalRef.logits[8]) > 1e-3, 'local attention changes late positions');
  // decode the last 3 tokens one by one with the cache
  let past = await runStep(session, res.manifest, IDS.slice(0, 6));
  for (let t = 6; t < IDS.length; t++) {
    past = await runStep(session, res.manifest, [IDS[t]], past, t);
    expectClose(past.logits, [ref.logits[t]], `cached step ${t}`);
  }
});

test('reference multi-exit GPT-Neo checkpoint: lm_head_layer_indices heads', async () => {
  const weights = tinyGptNeoWeights(CFG, graph.mulberry32(10));
  const head = randomMatrix(CFG.vocabSize, CFG.hiddenSize, 4);
  weights.set('name_to_lm_exit_head.lm_head_2.weight', head);
  const dir = path.join(tempDir(), 'neo');
  writeNeo(dir, weights, { lm_head_layer_indices: [2, 'original'] });
  const out = path.join(tempDir(), 'model');
  const res = await convert(dir, { out });
  assert.equal(res.manifest.exits.map((e) => [e.layer, e.kind]), [[2, 'head']]);
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  const o = await runStep(session, res.manifest, IDS);
  expectClose(o['exit.2.logits'], gptNeoForward(CFG, weights, IDS).headLogits(2, 'name_to_lm_exit_head.lm_head_2.weight'), 'head 2');
});

test.run();
