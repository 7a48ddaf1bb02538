// The parity checks every architecture variant runs: the ONNX graph against the float64
// reference, KV-cache decoding, exits, and left-padded batches.
import * as assert from 'uvu/assert';
import { buildModel, expectRows, maxDiff, row, runSequence, step } from './helpers.mjs';
import { referenceForward } from './reference-forward.mjs';

const TOL = 1e-4;
const TOKENS = [3, 17, 5, 29, 11, 2, 38, 21];

/** Exits used by the suite for a 3-layer model: one of each kind plus the last layer. */
export function suiteExits() {
  return [
    { layer: 0, kind: 'lens' },
    { layer: 1, kind: 'conversion' },
    { layer: 2, kind: 'head', bias: 'exit_heads.2.bias' },
    { layer: 3, kind: 'lens' },
  ];
}

/** Registers the parity tests for `config` on the uvu suite `test` (`graphForm`: the graph form to build). */
export function parityTests(test, config, { graphForm } = {}) {
  const exits = suiteExits();
  let model;
  let ref;
  test.before(async () => {
    model = await buildModel(config, { exits, graphForm });
    ref = referenceForward(config, model.weights, TOKENS);
  });
  test.after(async () => {
    await model.session.release();
  });

  test('full-sequence logits equal the float64 reference', async () => {
    const out = await runSequence(model.session, model.manifest, TOKENS);
    assert.equal(out.logits.dims, [1, TOKENS.length, config.vocabSize]);
    expectRows(assert, out.logits, ref.logits, TOL, 'logits');
  });

  test('every exit equals the reference (lens, conversion, trained head) and exit hidden states too', async () => {
    const out = await runSequence(model.session, model.manifest, TOKENS);
    expectRows(assert, out['exit.0.logits'], ref.lensLogits(0), TOL, 'exit 0 lens logits');
    expectRows(assert, out['exit.0.hidden'], ref.lensHidden(0), TOL, 'exit 0 hidden');
    expectRows(assert, out['exit.1.logits'], ref.conversionLogits(1, 'exit_conversions.1.weight'), TOL, 'exit 1 conversion logits');
    expectRows(assert, out['exit.1.hidden'], ref.conversionHidden(1, 'exit_conversions.1.weight'), TOL, 'exit 1 conversion hidden');
    expectRows(assert, out['exit.2.logits'], ref.headLogits(2, 'exit_heads.2.weight', 'exit_heads.2.bias'), TOL, 'exit 2 head logits');
    expectRows(assert, out['exit.2.hidden'], ref.lensHidden(2), TOL, 'exit 2 hidden');
    expectRows(assert, out['exit.3.logits'], ref.lensLogits(3), TOL, 'exit 3 lens logits');
    for (let L = 0; L <= config.numLayers; L++) {
      // every layer's logit lens, computed independently by the reference, differs between layers
      if (L < config.numLayers) assert.ok(maxDiff(ref.lensLogits(L)[0], ref.logits[0]) > 1e-3, `layer ${L} lens is distinct`);
    }
  });

  test('the last-layer exit equals logits exactly', async () => {
    const out = await runSequence(model.session, model.manifest, TOKENS);
    assert.equal(Array.from(out['exit.3.logits'].data), Array.from(out.logits.data));
  });

  test('KV-cache decoding (prefill 5, then 3 single steps) equals recomputing the whole sequence', async () => {
    const full = await runSequence(model.session, model.manifest, TOKENS);
    const prefill = TOKENS.slice(0, 5);
    let out = await runSequence(model.session, model.manifest, prefill);
    for (let t = 5; t < 8; t++) {
      out = await step(model.session, model.manifest, {
        ids: [[TOKENS[t]]],
        mask: [Array(t + 1).fill(1)],
        positions: [[t]],
        past: out,
      });
      assert.equal(out['present.0.key'].dims[2], t + 1);
      for (const name of ['logits', 'exit.0.logits', 'exit.1.logits', 'exit.2.logits', 'exit.3.logits']) {
        const d = maxDiff(row(out[name], 0, 0), row(full[name], 0, t));
        assert.ok(d < TOL, `${name} at step ${t}: max diff ${d}`);
      }
      assert.ok(maxDiff(row(out.logits, 0, 0), ref.logits[t]) < TOL, `step ${t} vs reference`);
    }
  });

  test('a left-padded batch of two prompts gives each prompt\'s logits (prefill and two decode steps)', async () => {
    const a = [4, 9, 13, 22, 7];
    const b = [30, 1, 16];
    const pad = a.length - b.length;
    let batch = await step(model.session, model.manifest, {
      ids: [a, [...Array(pad).fill(0), ...b]],
      mask: [a.map(() => 1), [...Array(pad).fill(0), ...b.map(() => 1)]],
      positions: [a.map((_, i) => i), [...Array(pad).fill(1), ...b.map((_, i) => i)]],
    });
    let aloneA = await runSequence(model.session, model.manifest, a);
    let aloneB = await runSequence(model.session, model.manifest, b);
    const check = (label, tb, ta, tB) => {
      for (const name of ['logits', 'exit.1.logits', 'exit.2.logits']) {
        const da = maxDiff(row(batch[name], 0, tb), row(aloneA[name], 0, ta));
        const db = maxDiff(row(batch[name], 1, tb), row(aloneB[name], 0, tB));
        assert.ok(da < TOL && db < TOL, `${label} ${name}: diffs ${da}, ${db}`);
      }
    };
    check('prefill', a.length - 1, a.length - 1, b.length - 1);
    const next = [[12, 25], [6, 33]];
    for (let s = 0; s < 2; s++) {
      const total = a.length + s + 1;
      batch = await step(model.session, model.manifest, {
        ids: [[next[s][0]], [next[s][1]]],
        mask: [Array(total).fill(1), [...Array(pad).fill(0), ...Array(total - pad).fill(1)]],
        positions: [[a.length + s], [b.length + s]],
        past: batch,
      });
      aloneA = await step(model.session, model.manifest, { ids: [[next[s][0]]], mask: [Array(a.length + s + 1).fill(1)], positions: [[a.length + s]], past: aloneA });
      aloneB = await step(model.session, model.manifest, { ids: [[next[s][1]]], mask: [Array(b.length + s + 1).fill(1)], positions: [[b.length + s]], past: aloneB });
      check(`decode ${s}`, 0, 0, 0);
    }
  });
}
