// Continuous batching in the runtime: rows joining a running sequence (admit) and leaving it (removeRow) give
// every row the outputs it gets when decoded alone, through growth of the past (a longer newcomer), moves of the
// last row into a freed slot, and dropping of shared left padding near the context limit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildModelFolder, graph, maxAbsDiff, rt, skipReason, tokens } from './helpers.mjs';

const skip = skipReason();
let model = null;
// The reference graph rotates keys by position_ids; the fused graph by their cache column, so a row moved to other
// columns has its keys rotated on by the runtime (both rotary layouts).
const FORMS = {
  reference: [graph.TINY_LLAMA_CONFIG, {}],
  'fused, half rotary': [{ ...graph.TINY_LLAMA_CONFIG, headDim: 16 }, { graphForm: 'fused' }],
  'fused, interleaved rotary': [{ ...graph.TINY_LLAMA_CONFIG, headDim: 16, rotary: 'interleaved' }, { graphForm: 'fused' }],
};
const models = new Map();
async function tinyLlama(form = 'reference') {
  if (!models.has(form)) {
    const [config, opts] = FORMS[form];
    const { dir } = await buildModelFolder(config, { exits: [{ layer: 1, kind: 'lens' }], ...opts });
    models.set(form, await rt.loadModel(dir, { intraOpThreads: 1 }));
  }
  model = models.get(form);
  return model;
}
const V = () => model.description.vocabSize;
/** The token a row feeds at its k-th step: fixed in advance, so the reference needs no logits. */
const feed = (id, k) => (id * 31 + k * 7 + 3) % V();

/** Reference: the prompt alone (batch 1), then `steps` steps with feed(id, k); logits after the prefill and each step. */
async function alone(m, id, prompt, steps) {
  const s = m.createSequence({ batch: 1, maxLength: prompt.length + steps + 1, exit: { layer: 1, logits: true } });
  try {
    const out = [];
    let o = await s.prefill([prompt]);
    out.push({ logits: o.logits.slice(), exit: o.exitLogits.slice() });
    for (let k = 0; k < steps; k++) {
      o = await s.step([feed(id, k)]);
      out.push({ logits: o.logits.slice(), exit: o.exitLogits.slice() });
    }
    return out;
  } finally {
    s.dispose();
  }
}

for (const form of Object.keys(FORMS)) test(`${form} graph: rows joining and leaving a running batch decode as they do alone`, async () => {
  if (skip) return;
  const m = await tinyLlama(form);
  const v = V();
  const prompts = { a: tokens(3, v, 1), b: tokens(9, v, 2), c: tokens(2, v, 3), d: tokens(5, v, 4) };
  const ids = { a: 1, b: 2, c: 3, d: 4 };
  const steps = 12;
  const ref = {};
  for (const k of Object.keys(prompts)) ref[k] = await alone(m, ids[k], prompts[k], steps);

  // maxLength 22: b (9 tokens + 12 steps) fits only if the padding it gets in the batch is dropped later.
  const batch = m.createSequence({ batch: 3, maxLength: 22, exit: { layer: 1, logits: true } });
  assert.is(batch.rows, 0);
  const live = []; // row index -> { key, k (steps taken) }
  let worst = 0, checks = 0;
  const admit = async (key) => {
    const src = m.createSequence({ batch: 1, maxLength: prompts[key].length, exit: { layer: 1, logits: true } });
    const o = await src.prefill([prompts[key]]);
    worst = Math.max(worst, maxAbsDiff(o.logits, ref[key][0].logits));
    const row = await batch.admit(src, 0);
    src.dispose();
    assert.is(row, live.length);
    live.push({ key, k: 0 });
  };
  const step = async () => {
    const o = await batch.step(live.map((r) => feed(ids[r.key], r.k)));
    live.forEach((r, i) => {
      r.k++;
      const want = ref[r.key][r.k];
      worst = Math.max(worst, maxAbsDiff(o.logits.subarray(i * v, (i + 1) * v), want.logits));
      worst = Math.max(worst, maxAbsDiff(o.exitLogits.subarray(i * v, (i + 1) * v), want.exit));
      checks++;
    });
  };
  const remove = (key) => {
    const i = live.findIndex((r) => r.key === key);
    const last = batch.removeRow(i);
    assert.is(last, live.length - 1);
    live[i] = live[last];
    live.pop();
  };
  await admit('a');
  await step();
  await step();
  await admit('b'); // longer than the past: every row moves right
  await step();
  await admit('c');
  assert.is(batch.rows, 3);
  const full = await batch.admit(m.createSequence({ batch: 1, maxLength: 4 }), 0).catch((e) => e);
  assert.instance(full, Error); // the source is not prefilled, and every slot is in use
  await step();
  remove('a'); // the last row (c) moves into a's slot
  await step();
  await admit('d');
  for (let i = 0; i < 3; i++) await step();
  remove('b'); // the longest row leaves: the padding the others share is dropped
  while (live.some((r) => r.k < steps)) {
    for (const r of live.filter((x) => x.k >= steps)) remove(r.key);
    if (live.length) await step();
  }
  console.log(`  ${checks} row-steps compared, max |diff| ${worst.toExponential(2)}`);
  assert.ok(checks > 30);
  assert.ok(worst < 1e-4, `max diff ${worst}`);
  while (batch.rows) batch.removeRow(0);
  assert.is(batch.pastLength, 0);
  batch.dispose();
});

test('bad calls are refused with clear errors and leave the sequence usable', async () => {
  if (skip) return;
  const m = await tinyLlama();
  const v = V();
  const batch = m.createSequence({ batch: 3, maxLength: 8 });
  const src = m.createSequence({ batch: 2, maxLength: 8 });
  assert.throws(() => batch.removeRow(0), /outside \[0, 0\)/);
  assert.match(String(await batch.admit(src, 0).catch((e) => e)), /not prefilled/);
  await src.prefill([tokens(3, v, 5), tokens(8, v, 6)]);
  assert.match(String(await batch.admit(batch, 0).catch((e) => e)), /itself/);
  assert.match(String(await batch.admit(src, 2).catch((e) => e)), /source row 2/);
  assert.match(String(await batch.admit(src, 1.5).catch((e) => e)), /integer/);
  const short = m.createSequence({ batch: 1, maxLength: 4 });
  assert.match(String(await short.admit(src, 1).catch((e) => e)), /more than maxLength/);
  short.dispose();
  assert.is(await batch.admit(src, 1), 0);
  assert.is(await batch.admit(src, 0), 1);
  assert.is(batch.pastLength, 8);
  assert.throws(() => batch.reorder([1, 0, 0]), /every row slot/);
  assert.throws(() => batch.removeRow(2), /outside \[0, 2\)/);
  const failure = async (f) => {
    try {
      await f();
    } catch (e) {
      return e;
    }
    return null;
  };
  const wrongCount = await failure(() => batch.step([1]));
  assert.match(String(wrongCount), /one token per row \(2\)/);
  const overflow = await failure(() => batch.step([1, 2]));
  assert.match(String(overflow), /context length exceeded/);
  // The 8-token row leaves; the 3-token row's 5 positions of padding are dropped before the next step.
  assert.is(batch.removeRow(0), 1);
  const o = await batch.step([4]);
  assert.is(o.pastLength, 4);
  src.dispose();
  batch.dispose();
});

test.run();
