// logitPositions 'last' / 'input' and opset 18 give the same numbers as the full graph.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { buildModel, graph, manifest, maxDiff, ort, row, runSequence, step, tempDir } from './helpers.mjs';

const test = suite('logit positions');
const TOKENS = [5, 8, 13, 21, 34, 2];
const exits = [{ layer: 1, kind: 'lens' }, { layer: 2, kind: 'head', logits: true, hidden: false }, { layer: 3, kind: 'lens', hidden: false }];
const config = graph.TINY_LLAMA_CONFIG;

test('last-position graph outputs [batch, 1, V] equal to the full graph\'s last position', async () => {
  const full = await buildModel(config, { exits });
  const last = await buildModel(config, { exits, logitPositions: 'last' });
  assert.is(last.manifest.graph.logitPositions, 'last');
  const a = await runSequence(full.session, full.manifest, TOKENS);
  const b = await runSequence(last.session, last.manifest, TOKENS);
  for (const name of ['logits', 'exit.1.logits', 'exit.1.hidden', 'exit.2.logits', 'exit.3.logits']) {
    assert.is(b[name].dims[1], 1, `${name} has one position`);
    assert.ok(maxDiff(row(b[name], 0, 0), row(a[name], 0, TOKENS.length - 1)) < 1e-5, name);
  }
  assert.not.ok('exit.2.hidden' in b, 'hidden output omitted when hidden: false');
  assert.equal(b['present.0.key'].dims, [1, 2, TOKENS.length, 4], 'cache still covers every position');
  await full.session.release();
  await last.session.release();
});

test('num_logits_to_keep input: 0 keeps all positions, k keeps the last k', async () => {
  const full = await buildModel(config, { exits });
  const dyn = await buildModel(config, { exits, logitPositions: 'input' });
  assert.ok(dyn.session.inputNames.includes('num_logits_to_keep'));
  const a = await runSequence(full.session, full.manifest, TOKENS);
  const feed = (keep) => step(dyn.session, dyn.manifest, {
    ids: [TOKENS], mask: [TOKENS.map(() => 1)], positions: [TOKENS.map((_, i) => i)], keep,
  });
  const all = await feed(0);
  assert.equal(all.logits.dims, [1, TOKENS.length, config.vocabSize]);
  assert.ok(maxDiff(all.logits.data, a.logits.data) < 1e-5);
  const two = await feed(2);
  assert.equal(two['exit.1.logits'].dims, [1, 2, config.vocabSize]);
  for (let t = 0; t < 2; t++) {
    assert.ok(maxDiff(row(two['exit.1.logits'], 0, t), row(a['exit.1.logits'], 0, TOKENS.length - 2 + t)) < 1e-5);
  }
  await full.session.release();
  await dyn.session.release();
});

test('opset 18 (ReduceMean axes as input) gives the same logits', async () => {
  const weights = graph.tinyGpt2Weights(graph.TINY_GPT2_CONFIG, 3);
  const dirs = [17, 18].map((opset) => path.join(tempDir(), `m${opset}`));
  const out = [];
  for (const [i, opset] of [17, 18].entries()) {
    await manifest.writeModelFolder(dirs[i], { config: graph.TINY_GPT2_CONFIG, weights, opset });
    const s = await ort.InferenceSession.create(path.join(dirs[i], 'model.onnx'));
    out.push(await runSequence(s, { numLayers: 3, numKvHeads: 4, headDim: 4 }, TOKENS));
    await s.release();
  }
  assert.ok(maxDiff(out[0].logits.data, out[1].logits.data) < 1e-6);
});

test.run();
