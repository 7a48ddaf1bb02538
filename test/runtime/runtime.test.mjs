// Native decode runtime: KV-cache decoding vs full recompute on onnxruntime-node's JS API (max |diff| <= 1e-4,
// float32), left-padded batches, concurrency, beam reordering, contrast fast path and errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as h from './helpers.mjs';

const TOL = 1e-4; // absolute, on logits / hidden states of order 1 (float32, different op order than recompute)
const skip = h.skipReason();

const gpt2 = h.graph.TINY_GPT2_CONFIG;
const llama = h.graph.TINY_LLAMA_CONFIG;
const models = {};
async function model(name, cfg, opts) {
  if (!models[name]) {
    const folder = await h.buildModelFolder(cfg, opts);
    const native = await h.rt.loadModel(folder.dir);
    const session = await h.ort.InferenceSession.create(`${folder.dir}/model.onnx`);
    models[name] = { ...folder, native, session, cfg };
  }
  return models[name];
}

async function checkAgainstRecompute(t, M, { prompt = 6, steps = 8, seed = 1 } = {}) {
  const exit = M.manifest.exits[0];
  const seq = M.native.createSequence({ batch: 1, maxLength: prompt + steps + 1, exit: exit ? { layer: exit.layer, logits: !!exit.logitsOutput, hidden: !!exit.hiddenOutput } : undefined });
  const ids = h.tokens(prompt, M.cfg.vocabSize, seed);
  let out = await seq.prefill([ids]);
  let worst = 0;
  for (let s = 0; s <= steps; s++) {
    const ref = await h.recompute(M.session, M.manifest, ids);
    worst = Math.max(worst, h.maxAbsDiff(out.logits, ref.logits));
    if (exit?.logitsOutput) worst = Math.max(worst, h.maxAbsDiff(out.exitLogits, ref[exit.logitsOutput]));
    if (exit?.hiddenOutput) worst = Math.max(worst, h.maxAbsDiff(out.exitHidden, ref[exit.hiddenOutput]));
    if (s === steps) break;
    const next = h.argmax(out.logits);
    ids.push(next);
    out = await seq.step([next]);
    assert.is(out.pastLength, ids.length);
  }
  assert.ok(worst <= TOL, `${t}: max |diff| ${worst} > ${TOL}`);
  seq.dispose();
  return worst;
}

if (skip) {
  test('runtime tests', () => {});
} else {
  test('KV-cache decoding equals full recompute (tiny GPT-2, logits + exit, last-position graph)', async () => {
    const M = await model('gpt2', gpt2, { exits: [{ layer: 1, kind: 'lens' }] });
    await checkAgainstRecompute('gpt2', M);
  });

  test('KV-cache decoding equals full recompute (tiny Llama, GQA, trained-head exit)', async () => {
    const M = await model('llama', llama, { exits: [{ layer: 2, kind: 'head' }] });
    await checkAgainstRecompute('llama', M, { prompt: 9, steps: 10 });
  });

  test('graphs with all-position logits and num_logits_to_keep work too', async () => {
    const A = await model('gpt2-all', gpt2, { exits: [{ layer: 2, kind: 'lens' }], logitPositions: 'all' });
    await checkAgainstRecompute('all', A, { seed: 4 });
    const I = await model('gpt2-input', gpt2, { exits: [{ layer: 2, kind: 'lens' }], logitPositions: 'input' });
    await checkAgainstRecompute('input', I, { seed: 5 });
  });

  test('a batch of two left-padded prompts equals each prompt alone', async () => {
    const M = await model('gpt2', gpt2, { exits: [{ layer: 1, kind: 'lens' }] });
    const prompts = [h.tokens(3, gpt2.vocabSize, 7), h.tokens(8, gpt2.vocabSize, 8)];
    const V = gpt2.vocabSize;
    const exit = { layer: 1, logits: true };
    const both = M.native.createSequence({ batch: 2, maxLength: 16, exit });
    const alone = prompts.map(() => M.native.createSequence({ batch: 1, maxLength: 16, exit }));
    let ob = await both.prefill(prompts);
    let oa = await Promise.all(alone.map((s, i) => s.prefill([prompts[i]])));
    for (let s = 0; s < 6; s++) {
      for (let r = 0; r < 2; r++) {
        const d = h.maxAbsDiff(ob.logits.subarray(r * V, (r + 1) * V), oa[r].logits);
        const e = h.maxAbsDiff(ob.exitLogits.subarray(r * V, (r + 1) * V), oa[r].exitLogits);
        assert.ok(d <= TOL && e <= TOL, `step ${s} row ${r}: ${d} / ${e}`);
      }
      const next = [0, 1].map((r) => h.argmax(oa[r].logits));
      ob = await both.step(next);
      oa = await Promise.all(alone.map((q, r) => q.step([next[r]])));
    }
    both.dispose();
    alone.forEach((q) => q.dispose());
  });

  test('two sequences stepping concurrently equal sequential runs', async () => {
    const M = await model('llama', llama, { exits: [{ layer: 2, kind: 'head' }] });
    const run = async (seed, concurrentWith) => {
      const seq = M.native.createSequence({ batch: 1, maxLength: 30 });
      const ids = h.tokens(5, llama.vocabSize, seed);
      const logs = [];
      let out = await seq.prefill([ids]);
      for (let s = 0; s < 12; s++) {
        logs.push(out.logits.slice());
        out = await seq.step([h.argmax(out.logits)]);
      }
      logs.push(out.logits.slice());
      seq.dispose();
      void concurrentWith;
      return logs;
    };
    const seqA = await run(21);
    const seqB = await run(22);
    const [conA, conB] = await Promise.all([run(21), run(22)]);
    for (let i = 0; i < seqA.length; i++) {
      assert.equal(Array.from(conA[i]), Array.from(seqA[i]), `A step ${i}`);
      assert.equal(Array.from(conB[i]), Array.from(seqB[i]), `B step ${i}`);
    }
  });

  test('beam reorder: rows follow their parents', async () => {
    const M = await model('gpt2', gpt2, { exits: [{ layer: 1, kind: 'lens' }] });
    const V = gpt2.vocabSize;
    const prompts = [h.tokens(4, V, 31), h.tokens(6, V, 32), h.tokens(5, V, 33)];
    const beams = M.native.createSequence({ batch: 3, maxLength: 12 });
    await beams.prefill(prompts);
    await beams.step([1, 2, 3]);
    beams.reorder([2, 0, 0]);
    beams.reorder([1, 0, 2]); // composes: rows continue old rows [0, 2, 0]
    const out = await beams.step([5, 6, 7]);
    const parents = [0, 2, 0];
    const lastTok = [1, 2, 3];
    const next = [5, 6, 7];
    for (let r = 0; r < 3; r++) {
      const p = parents[r];
      const one = M.native.createSequence({ batch: 1, maxLength: 12 });
      const o = await one.prefill([[...prompts[p], lastTok[p], next[r]]]);
      const d = h.maxAbsDiff(out.logits.subarray(r * V, (r + 1) * V), o.logits);
      assert.ok(d <= TOL, `row ${r}: ${d}`);
      one.dispose();
    }
    beams.dispose();
  });

  test('stepAndContrast: alpha = 1 picks the expert argmax; scores are log-probabilities', async () => {
    const M = await model('gpt2', gpt2, { exits: [{ layer: 1, kind: 'lens' }] });
    const V = gpt2.vocabSize;
    const seq = M.native.createSequence({ batch: 2, maxLength: 12, exit: { layer: 1, logits: true } });
    await seq.prefill([h.tokens(4, V, 41), h.tokens(2, V, 42)]);
    const o = await seq.stepAndContrast([3, 4], { alpha: 1 });
    for (let r = 0; r < 2; r++) {
      assert.is(o.tokens[r], h.argmax(o.logits, r * V, V));
      assert.is(o.headSize[r], 1);
      // ACD: a one-token head keeps its expert mass, so the score is the expert log-probability
      const row = o.logits.subarray(r * V, (r + 1) * V);
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, z) => a + Math.exp(z - mx), 0));
      assert.ok(Math.abs(o.logprobs[r] - (row[o.tokens[r]] - lse)) < 1e-4, `row ${r}: ${o.logprobs[r]}`);
    }
    const p = await seq.stepAndContrast([o.tokens[0], o.tokens[1]], { alpha: 0.1 });
    let mass = 0;
    for (let v = 0; v < V; v++) mass += Math.exp(p.scores[v]);
    assert.ok(Math.abs(mass - 1) < 1e-4, `mass ${mass}`);
    assert.is(p.tokens[0], h.argmax(p.scores, 0, V));
    seq.dispose();
  });

  test('errors: context overflow, wrong counts, bad ids, disposed objects, overlapping calls', async () => {
    const M = await model('gpt2', gpt2, { exits: [{ layer: 1, kind: 'lens' }] });
    const seq = M.native.createSequence({ batch: 1, maxLength: 4 });
    try {
      seq.step([1]);
      assert.unreachable('step before prefill');
    } catch (e) {
      assert.match(e.message, /prefill/);
    }
    assert.throws(() => seq.prefill([[1, 2, 3, 4, 5]]), (e) => e instanceof RangeError && /maxLength/.test(e.message));
    assert.throws(() => seq.prefill([[1], [2]]), (e) => e instanceof RangeError && /1 prompts/.test(e.message));
    assert.throws(() => seq.prefill([[]]), (e) => e instanceof RangeError && /empty/.test(e.message));
    assert.throws(() => seq.prefill([[gpt2.vocabSize]]), (e) => e instanceof RangeError && /outside/.test(e.message));
    assert.throws(() => seq.prefill([[1.5]]), TypeError);
    await seq.prefill([[1, 2, 3]]);
    assert.throws(() => seq.step([1, 2]), (e) => e instanceof RangeError && /one token per row/.test(e.message));
    await seq.step([4]);
    assert.throws(() => seq.step([5]), (e) => e instanceof RangeError && /context length exceeded/.test(e.message));
    assert.throws(() => M.native.createSequence({ batch: 1, maxLength: gpt2.contextLength + 1 }), RangeError);
    assert.throws(() => M.native.createSequence({ batch: 1, maxLength: 4, exit: { layer: 3 } }), /no exit at layer 3/);
    assert.throws(() => seq.stepAndContrast([1]), RangeError);
    const busy = M.native.createSequence({ batch: 1, maxLength: 8 });
    const p = busy.prefill([[1, 2]]);
    assert.throws(() => busy.step([1]), /already running/);
    busy.dispose(); // while running: the step finishes, then the memory goes
    await p;
    assert.throws(() => busy.step([1]), /disposed/);
    seq.dispose();
    assert.throws(() => seq.step([1]), /disposed/);
  });

  test('loadModel: clear errors for a bad folder or description', async () => {
    const M = await model('gpt2', gpt2, { exits: [{ layer: 1, kind: 'lens' }] });
    let err;
    try {
      await h.rt.loadModel('/nonexistent-folder');
    } catch (e) {
      err = e;
    }
    assert.match(err?.message ?? '', /autocontrast\.json is missing/);
    err = undefined;
    try {
      await h.rt.loadModel({ ...M.native.description, numKvHeads: 3 });
    } catch (e) {
      err = e;
    }
    assert.match(err?.message ?? '', /past_key_values\.0\.key has shape/);
    err = undefined;
    try {
      await h.rt.loadModel({ ...M.native.description, graphPath: '/nonexistent.onnx' });
    } catch (e) {
      err = e;
    }
    assert.match(err?.message ?? '', /ONNX Runtime CreateSession/);
    const m2 = await h.rt.loadModel(M.dir);
    m2.dispose();
    assert.throws(() => m2.createSequence({ batch: 1, maxLength: 4 }), /disposed/);
  });

  test.after(() => {
    for (const M of Object.values(models)) M.native.dispose();
  });
}

test.run();
