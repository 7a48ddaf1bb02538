// The native runtime on the fused Llama graph (GroupQueryAttention, past/present bound to the runtime's
// ping-pong KV buffers): decoding equals a full recompute of the reference graph built from the same weights,
// and a left-padded batch equals each prompt alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as h from './helpers.mjs';

const TOL = 1e-4;
const skip = h.skipReason();
// head width 16: GroupQueryAttention's CPU rotary kernel refuses narrower heads
const cfg = { ...h.graph.TINY_LLAMA_CONFIG, headDim: 16 };
const exits = [{ layer: 1, kind: 'lens' }, { layer: 2, kind: 'head' }];

if (skip) {
  test('fused runtime tests', () => {});
} else {
  let fused, reference, session;
  test.before(async () => {
    fused = await h.buildModelFolder(cfg, { exits, logitPositions: 'input', graphForm: 'fused' });
    reference = await h.buildModelFolder(cfg, { exits, logitPositions: 'input' });
    assert.is(fused.manifest.graph.form, 'fused');
    assert.is(reference.manifest.graph.form, 'reference');
    session = await h.ort.InferenceSession.create(`${reference.dir}/model.onnx`);
  });

  test('fused graph in the native runtime: 10 decode steps equal recomputing the reference graph', async () => {
    const native = await h.rt.loadModel(fused.dir);
    const seq = native.createSequence({ batch: 1, maxLength: 24, exits: [{ layer: 1, logits: true, hidden: true }, { layer: 2, logits: true }] });
    const ids = h.tokens(7, cfg.vocabSize, 3);
    let out = await seq.prefill([ids]);
    let worst = 0;
    for (let s = 0; s <= 10; s++) {
      const ref = await h.recompute(session, reference.manifest, ids);
      worst = Math.max(worst, h.maxAbsDiff(out.logits, ref.logits));
      assert.is(out.exitOutputs.size, 2);
      for (const [layer, x] of out.exitOutputs) {
        if (x.logits) worst = Math.max(worst, h.maxAbsDiff(x.logits, ref[`exit.${layer}.logits`]));
        if (x.hidden) worst = Math.max(worst, h.maxAbsDiff(x.hidden, ref[`exit.${layer}.hidden`]));
      }
      assert.ok(out.exitOutputs.get(1).hidden, 'exit 1 hidden bound');
      if (s === 10) break;
      const next = h.argmax(out.logits);
      ids.push(next);
      out = await seq.step([next]);
    }
    assert.ok(worst <= TOL, `max |diff| ${worst}`);
    seq.dispose();
    native.dispose();
  });

  test('fused graph: a left-padded batch of two equals each prompt alone (prefill + 6 steps)', async () => {
    const native = await h.rt.loadModel(fused.dir);
    const V = cfg.vocabSize;
    const prompts = [h.tokens(3, V, 7), h.tokens(8, V, 8)];
    const both = native.createSequence({ batch: 2, maxLength: 20 });
    const alone = prompts.map(() => native.createSequence({ batch: 1, maxLength: 20 }));
    let ob = await both.prefill(prompts);
    let oa = await Promise.all(alone.map((s, i) => s.prefill([prompts[i]])));
    for (let s = 0; s < 7; s++) {
      for (let r = 0; r < 2; r++) {
        const d = h.maxAbsDiff(ob.logits.subarray(r * V, (r + 1) * V), oa[r].logits);
        assert.ok(d <= TOL, `step ${s} row ${r}: ${d}`);
      }
      const next = [0, 1].map((r) => h.argmax(oa[r].logits));
      ob = await both.step(next);
      oa = await Promise.all(alone.map((q, r) => q.step([next[r]])));
    }
    both.dispose();
    alone.forEach((q) => q.dispose());
    native.dispose();
  });
}
test.run();
