import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convert } from 'autocontrast/convert';
import { writeModelFolder } from 'autocontrast/manifest';
import { referenceForward } from '../graph/reference-forward.mjs';
import { graph, randomMatrix, writeHfCheckpoint } from './hf-checkpoints.mjs';
import { maxDiff, ort, runStep, tempDir } from './helpers.mjs';

const IDS = [3, 17, 5, 29, 11, 0, 38];
const TOL = 2e-4;

function rows(t) {
  const [, T, V] = t.dims;
  return Array.from({ length: T }, (_, i) => t.data.subarray(i * V, (i + 1) * V));
}

function expectClose(actual, ref, label) {
  const got = rows(actual);
  assert.is(got.length, ref.length, label);
  for (let t = 0; t < ref.length; t++) {
    const d = maxDiff(got[t], ref[t]);
    assert.ok(d < TOL, `${label} position ${t}: max diff ${d}`);
  }
}

async function convertAndRun(dir, options = {}) {
  const out = path.join(tempDir(), 'model');
  const res = await convert(dir, { out, ...options });
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  return { res, outputs: await runStep(session, res.manifest, IDS) };
}

for (const [name, cfg] of [
  ['GPT-2', graph.TINY_GPT2_CONFIG],
  ['Llama (GQA, untied)', graph.TINY_LLAMA_CONFIG],
  ['Qwen2-style (biases, tied)', { ...graph.TINY_LLAMA_CONFIG, attentionBias: true, tieWordEmbeddings: true }],
]) {
  test(`${name}: HF checkpoint converts and matches the float64 reference and the builder fed directly`, async () => {
    const dir = path.join(tempDir(), 'ckpt');
    const weights = writeHfCheckpoint(dir, cfg);
    const { res, outputs } = await convertAndRun(dir, { exits: [1, 2] });
    assert.is(res.format, 'hf');
    assert.equal(res.manifest.exits.map((e) => [e.layer, e.kind]), [[1, 'lens'], [2, 'lens']]);
    const ref = referenceForward(cfg, weights, IDS);
    expectClose(outputs.logits, ref.logits, 'logits');
    expectClose(outputs['exit.1.logits'], ref.lensLogits(1), 'exit 1');
    // the builder fed directly gives identical numbers
    const direct = path.join(tempDir(), 'direct');
    const w = await writeModelFolder(direct, { config: cfg, weights, exits: [{ layer: 1, kind: 'lens' }, { layer: 2, kind: 'lens' }], logitPositions: 'input' });
    const s2 = await ort.InferenceSession.create(path.join(direct, 'model.onnx'));
    const o2 = await runStep(s2, w.manifest, IDS);
    assert.equal(Array.from(outputs.logits.data), Array.from(o2.logits.data));
  });
}

test('Llama in BF16, sharded in 3 files with an index: converts (bf16-rounded reference)', async () => {
  const cfg = graph.TINY_LLAMA_CONFIG;
  const dir = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(dir, cfg, { shards: 3, dtype: 'BF16' });
  const { res, outputs } = await convertAndRun(dir, { exits: '3' });
  assert.is(res.manifest.numLayers, 3);
  assert.ok(outputs.logits.data.every(Number.isFinite));
});

test('reference multi-exit GPT-2 (lm_head_layer_indices, name_to_lm_exit_head.lm_head_{L}): trained heads become head exits', async () => {
  const cfg = graph.TINY_GPT2_CONFIG;
  const V = cfg.vocabSize;
  const d = cfg.hiddenSize;
  const extra = new Map([
    ['name_to_lm_exit_head.lm_head_1.weight', randomMatrix(V, d, 11)],
    ['name_to_lm_exit_head.lm_head_3.weight', randomMatrix(V, d, 12)],
  ]);
  const dir = path.join(tempDir(), 'ckpt');
  const weights = writeHfCheckpoint(dir, cfg, { extraWeights: extra, configExtra: { lm_head_layer_indices: [1, 3, 'original'] } });
  const { res, outputs } = await convertAndRun(dir);
  assert.equal(res.manifest.exits.map((e) => [e.layer, e.kind]), [[1, 'head'], [3, 'head']]);
  const ref = referenceForward(cfg, weights, IDS);
  expectClose(outputs['exit.1.logits'], ref.headLogits(1, 'name_to_lm_exit_head.lm_head_1.weight'), 'head 1');
  expectClose(outputs['exit.3.logits'], ref.headLogits(3, 'name_to_lm_exit_head.lm_head_3.weight'), 'head 3');
  expectClose(outputs.logits, ref.logits, 'logits');
});

test('--heads FILE: exit_heads.{L}.weight from a separate safetensors file', async () => {
  const cfg = graph.TINY_LLAMA_CONFIG;
  const dir = path.join(tempDir(), 'ckpt');
  const weights = writeHfCheckpoint(dir, cfg);
  const head = randomMatrix(cfg.vocabSize, cfg.hiddenSize, 5);
  const { encodeSafetensors } = (await import('autocontrast/safetensors')).default;
  const headsFile = path.join(tempDir(), 'heads.safetensors');
  fs.writeFileSync(headsFile, encodeSafetensors(new Map([['exit_heads.2.weight', { shape: head.dims, data: head.data }]])));
  const { res, outputs } = await convertAndRun(dir, { heads: headsFile });
  assert.equal(res.manifest.exits.map((e) => [e.layer, e.kind]), [[2, 'head']]);
  weights.set('exit_heads.2.weight', head);
  const ref = referenceForward(cfg, weights, IDS);
  expectClose(outputs['exit.2.logits'], ref.headLogits(2, 'exit_heads.2.weight'), 'head 2');
});

test('exitOutputs hidden: exits expose only exit.{L}.hidden', async () => {
  const dir = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(dir, graph.TINY_LLAMA_CONFIG);
  const { res, outputs } = await convertAndRun(dir, { exits: 'all', exitOutputs: 'hidden' });
  assert.equal(res.manifest.exits.map((e) => [e.layer, e.hiddenOutput ?? null, e.logitsOutput ?? null]), [1, 2, 3].map((l) => [l, `exit.${l}.hidden`, null]));
  assert.ok(outputs['exit.2.hidden'] && !outputs['exit.2.logits']);
});

test.run();
