// Several exits bound to one sequence: each exit's outputs equal those of a sequence bound to that exit alone
// (prefill of a left-padded batch, steps, a beam reorder), and equal the full recompute on onnxruntime-node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { bits } from '../helpers/determinism.mjs';
import * as h from './helpers.mjs';

const skip = h.skipReason();
const TOL = 1e-4; // vs the recompute (float32, different op order); multi vs single exit is the same graph: exact
const EXITS = [
  { layer: 1, kind: 'head', bias: 'exit_heads.1.bias' },
  { layer: 2, kind: 'lens' },
  { layer: 3, kind: 'head', hidden: false },
];
let M;
async function model() {
  if (M) return M;
  const folder = await h.buildModelFolder(h.graph.TINY_GPT2_CONFIG, { exits: EXITS, seed: 21, std: 0.3 });
  M = { ...folder, native: await h.rt.loadModel(folder.dir), session: await h.ort.InferenceSession.create(`${folder.dir}/model.onnx`) };
  return M;
}

const V = h.graph.TINY_GPT2_CONFIG.vocabSize;
const prompts = [h.tokens(5, V, 3), h.tokens(2, V, 4)];
const REQ = [
  { layer: 1, logits: true, hidden: true },
  { layer: 2, logits: false, hidden: true },
  { layer: 3, logits: true, hidden: false },
];

// Runs prefill, 2 steps, a reorder, 2 more steps; returns the copied outputs of every step.
async function trace(seq, layers) {
  const snaps = [];
  const snap = (o) => {
    const s = { logits: o.logits.slice() };
    for (const L of layers) {
      const e = o.exitOutputs.get(L);
      s[L] = { logits: e.logits?.slice(), hidden: e.hidden?.slice() };
    }
    snaps.push(s);
    return o;
  };
  let o = snap(await seq.prefill(prompts));
  for (let s = 0; s < 4; s++) {
    if (s === 2) seq.reorder([1, 1]);
    const next = [h.argmax(o.logits, 0, V), h.argmax(o.logits, V, V)];
    o = snap(await seq.step(next));
  }
  return snaps;
}

test('a multi-exit sequence gives every exit the outputs of a single-exit sequence (padding, steps, reorder)', async () => {
  if (skip) return;
  const m = await model();
  const multi = m.native.createSequence({ batch: 2, maxLength: 12, exits: REQ });
  const all = await trace(multi, [1, 2, 3]);
  multi.dispose();
  for (const r of REQ) {
    const single = m.native.createSequence({ batch: 2, maxLength: 12, exit: r });
    const one = await trace(single, [r.layer]);
    single.dispose();
    for (let s = 0; s < one.length; s++) {
      assert.equal(Array.from(all[s].logits), Array.from(one[s].logits), `logits, step ${s}`);
      for (const k of ['logits', 'hidden']) {
        assert.is(!!all[s][r.layer][k], !!r[k], `exit ${r.layer} ${k} presence`);
        if (r[k]) assert.equal(Array.from(all[s][r.layer][k]), Array.from(one[s][r.layer][k]), `exit ${r.layer} ${k}, step ${s}`);
      }
    }
  }
});

test('multi-exit outputs equal the full recompute on onnxruntime-node', async () => {
  if (skip) return;
  const m = await model();
  const seq = m.native.createSequence({ batch: 1, maxLength: 12, exit: { layer: 2, logits: true, hidden: true }, exits: [{ layer: 1, hidden: true }, { layer: 3 }] });
  const ids = h.tokens(4, V, 7);
  let out = await seq.prefill([ids]);
  assert.equal([...out.exitOutputs.keys()], [2, 1, 3]);
  assert.is(out.exitLogits, out.exitOutputs.get(2).logits, 'exitLogits is the first bound exit');
  assert.is(out.exitHidden, out.exitOutputs.get(2).hidden);
  let worst = 0;
  for (let s = 0; s < 5; s++) {
    const ref = await h.recompute(m.session, m.manifest, ids);
    worst = Math.max(worst, h.maxAbsDiff(out.logits, ref.logits));
    worst = Math.max(worst, h.maxAbsDiff(out.exitOutputs.get(2).logits, ref['exit.2.logits']));
    worst = Math.max(worst, h.maxAbsDiff(out.exitOutputs.get(2).hidden, ref['exit.2.hidden']));
    worst = Math.max(worst, h.maxAbsDiff(out.exitOutputs.get(1).logits, ref['exit.1.logits']));
    worst = Math.max(worst, h.maxAbsDiff(out.exitOutputs.get(1).hidden, ref['exit.1.hidden']));
    worst = Math.max(worst, h.maxAbsDiff(out.exitOutputs.get(3).logits, ref['exit.3.logits']));
    assert.is(out.exitOutputs.get(3).hidden, undefined);
    const next = h.argmax(out.exitOutputs.get(1).logits);
    ids.push(next);
    out = await seq.step([next]);
  }
  seq.dispose();
  assert.ok(worst <= TOL, `max |diff| ${worst}`);
});

test('the native contrast uses the first bound exit when several are bound', async () => {
  if (skip) return;
  const m = await model();
  const a = m.native.createSequence({ batch: 1, maxLength: 8, exit: { layer: 1 }, exits: [{ layer: 3 }] });
  const b = m.native.createSequence({ batch: 1, maxLength: 8, exit: { layer: 1 } });
  const ids = h.tokens(3, V, 9);
  const ra = await a.prefill([ids], { contrast: { alpha: 0.05 } });
  const rb = await b.prefill([ids], { contrast: { alpha: 0.05 } });
  assert.equal(Array.from(ra.tokens), Array.from(rb.tokens));
  // Bit for bit: the same exit gives the same rows, and the kernel's results do not depend on where the two
  // sequences' buffers sit (native/kernels/head_ops.inc assigns lanes by index in the row).
  assert.equal(bits(ra.scores), bits(rb.scores));
  a.dispose();
  b.dispose();
});

test('bad exit requests: clear errors', async () => {
  if (skip) return;
  const m = await model();
  assert.throws(() => m.native.createSequence({ batch: 1, maxLength: 4, exits: [{ layer: 1 }, { layer: 1 }] }), (e) => e instanceof RangeError && /requested twice/.test(e.message));
  assert.throws(() => m.native.createSequence({ batch: 1, maxLength: 4, exit: { layer: 2 }, exits: [{ layer: 2 }] }), (e) => e instanceof RangeError && /requested twice/.test(e.message));
  assert.throws(() => m.native.createSequence({ batch: 1, maxLength: 4, exits: [{ layer: 1 }, { layer: 0 }] }), (e) => e instanceof RangeError && /no exit at layer 0 \(exits: 1, 2, 3\)/.test(e.message));
  assert.throws(() => m.native.createSequence({ batch: 1, maxLength: 4, exits: [{ layer: 3, hidden: true }] }), (e) => e instanceof RangeError && /exit 3 has no hidden output/.test(e.message));
  assert.throws(() => m.native.createSequence({ batch: 1, maxLength: 4, exits: {} }), TypeError);
  const none = m.native.createSequence({ batch: 1, maxLength: 4 });
  const o = await none.prefill([[1]]);
  assert.is(o.exitOutputs.size, 0);
  none.dispose();
});

test.run();
