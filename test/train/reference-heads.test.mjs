// A fitted `head` exit is used by generate and score exactly as the same head imported from a reference-package
// heads file (convert --heads exit_heads.{L}.weight): a Hugging Face checkpoint is converted, a head fitted at
// layer 2, written as a heads file, the checkpoint converted again with it; both folders give the same
// contrasted scores and the same greedy continuation.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import convertPkg from 'autocontrast/convert';
import stPkg from 'autocontrast/safetensors';
import gen from 'autocontrast/generate';
import { writeHfCheckpoint } from '../convert/hf-checkpoints.mjs';
import { graphPkg, runtimeSkip, tempDir, tokenStream, trainPkg } from './helpers.mjs';

const skip = runtimeSkip();

test('a fitted head equals the same head given as a reference heads file', async () => {
  if (skip) return;
  for (const bias of [false, true]) {
    const cfg = graphPkg.TINY_GPT2_CONFIG;
    const base = tempDir();
    const ckpt = path.join(base, 'ckpt');
    writeHfCheckpoint(ckpt, cfg);
    const plain = path.join(base, 'plain');
    await convertPkg.convert(ckpt, { out: plain, exitOutputs: 'hidden' });
    const fitted = path.join(base, 'fitted');
    const tokens = tokenStream(1200, cfg.vocabSize, 8);
    const r = await trainPkg.fitExits({ model: plain, layers: [2], method: 'head', tokens, seqLen: 16, batchTokens: 64, learningRate: 1e-2, bias, out: fitted });
    const p = r.params.get(2);
    const heads = path.join(base, 'heads.safetensors');
    const tensors = new Map([['exit_heads.2.weight', { shape: [cfg.vocabSize, cfg.hiddenSize], data: p.W }]]);
    if (bias) tensors.set('exit_heads.2.bias', { shape: [cfg.vocabSize], data: p.b });
    fs.writeFileSync(heads, stPkg.encodeSafetensors(tensors));
    const imported = path.join(base, 'imported');
    await convertPkg.convert(ckpt, { out: imported, heads, exits: [2], exitOutputs: 'hidden' });
    const a = await gen.load(fitted);
    const b = await gen.load(imported);
    assert.is(a.amateurPath(2), 'sparse');
    assert.is(b.amateurPath(2), 'sparse');
    const ids = tokens.slice(100, 124);
    for (const mode of ['acd', 'cd']) {
      const sa = await gen.score(a, ids, { contrast: true, amateurLayer: 2, mode });
      const sb = await gen.score(b, ids, { contrast: true, amateurLayer: 2, mode });
      let diff = 0;
      // CD scores are -Infinity outside the plausible head: equal infinities count as no difference.
      sa.logProbs.forEach((v, i) => (diff = Math.max(diff, v === sb.logProbs[i] ? 0 : Math.abs(v - sb.logProbs[i]))));
      console.log(`  bias ${bias}, ${mode}: max |score difference| ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-5, `${mode}: scores differ by ${diff}`);
    }
    const ga = await gen.generate(a, ids.slice(0, 5), { amateurLayer: 2, maxNewTokens: 12 });
    const gb = await gen.generate(b, ids.slice(0, 5), { amateurLayer: 2, maxNewTokens: 12 });
    assert.equal(ga.tokens, gb.tokens);
    // The fitted head differs from the model's own head, so the lens exit scores differently.
    const lens = await gen.load(plain);
    const sl = await gen.score(lens, ids, { contrast: true, amateurLayer: 2 });
    const sa = await gen.score(a, ids, { contrast: true, amateurLayer: 2 });
    assert.ok(sl.logProbs.some((v, i) => Math.abs(v - sa.logProbs[i]) > 1e-4));
    for (const m of [a, b, lens]) m.dispose?.();
  }
});

test.run();
