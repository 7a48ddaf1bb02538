// Issue 11 on the default model (SmolLM2-135M as `pull smollm2-135m` installs it: 4-bit MatMulNBits weights with
// float activations, fused graph), integration tier:
// - deterministic mode: a row's logits (expert and amateur) are the same bits over batch 1, 2, 8 and 16, prompt
//   splits and 1 or 2 ONNX Runtime threads, and deterministic generate() gives a prompt the same tokens and
//   log-probabilities in any batch;
// - invariance of the normal mode: batch 8 versus batch 1 and a split prompt versus the whole prompt, max |logit
//   difference| < 1e-4 on float32 weights (converted from the GGUF the parity suite keeps, when it is here), and
//   reported on the 4-bit model with its own bound (see the test).
// Each part says why when it is skipped: the model is in the pull cache only after `autocontrast pull` (CI's
// Quick start check pulls it into a scratch HOME), the GGUF only after `npm run parity`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { cachedModelDir, convert, generate, load } from 'autocontrast';
import { bits, sessionBits } from '../helpers/determinism.mjs';
import { runtimeSkip, tempDir } from '../helpers/scratch.mjs';
import { FIDELITY_PROMPTS } from '../../parity/lib/fidelity.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODEL = cachedModelDir('smollm2-135m');
const GGUF = process.env.PARITY_SMOLLM_GGUF ?? path.join(root, 'parity', '.work', 'gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf');
// eight of the fidelity check's prompts (5-20 tokens)
const PROMPTS = [0, 5, 3, 7, 20, 4, 9, 12].map((i) => FIDELITY_PROMPTS[i]);
const FORCED = [1573, 28, 260, 314];
const PLAN = { layer: 15, mode: 'acd', alpha: 0.1, minCandidates: 1, path: 'sparse' };

function modelSkip() {
  if (runtimeSkip()) return 'runtime not built';
  if (!fs.existsSync(path.join(MODEL, 'autocontrast.json'))) {
    const why = `default model not pulled (${MODEL} is absent; \`autocontrast pull smollm2-135m\` installs it)`;
    console.log(`skipped: ${why}`);
    return why;
  }
  return null;
}

const skip = modelSkip();

/** Max |difference| between two lists of logit rows. */
const worst = (a, b) => Math.max(...a.map((x, i) => x.reduce((m, v, j) => Math.max(m, Math.abs(v - b[i][j])), 0)));

/** Normal mode on the runtime: row `row`'s logits after its prompt and each forced token, in a batch of `prompts`. */
async function logitRows(rt, prompts, row, split) {
  const V = rt.description.vocabSize;
  const seq = rt.createSequence({ batch: prompts.length, maxLength: 64 });
  const rows = [];
  try {
    let o = await seq.prefill(prompts.map((p) => (split ? p.slice(0, split) : p)));
    if (split) for (let t = split; t < prompts[row].length; t++) o = await seq.step(prompts.map((p) => p[t]));
    rows.push(o.logits.slice(row * V, (row + 1) * V));
    for (const f of FORCED) rows.push((await seq.step(prompts.map(() => f))).logits.slice(row * V, (row + 1) * V));
  } finally {
    seq.dispose();
  }
  return rows;
}

/** Batch 8 (two prompts, each among the others) and splits after 1 and 3 tokens (four prompts) versus alone. */
async function invariance(dir) {
  const model = await load(dir, { intraOpThreads: 2 });
  const ids = PROMPTS.map((p) => model.tokenizer.encode(p));
  let batch = 0, split = 0;
  try {
    for (let i = 0; i < 4; i++) {
      const alone = await logitRows(model.runtime, [ids[i]], 0);
      if (i < 2) batch = Math.max(batch, worst(await logitRows(model.runtime, ids, i), alone));
      for (const s of [1, 3]) split = Math.max(split, worst(await logitRows(model.runtime, [ids[i]], 0, s), alone));
    }
  } finally {
    model.dispose();
  }
  return { batch, split };
}

if (skip) {
  test('default model', () => {});
} else {
  test('default model, deterministic: logits bit-identical over batch 1/2/8/16, prompt splits and threads', async () => {
    let reference;
    for (const threads of [1, 2]) {
      const model = await load(MODEL, { intraOpThreads: threads });
      try {
        const ids = PROMPTS.map((p) => model.tokenizer.encode(p));
        const alone = await sessionBits(model, PLAN, [ids[1]], 0, FORCED);
        reference ??= alone;
        assert.equal(alone, reference, `threads ${threads}: batch 1 differs from threads 1`);
        if (threads === 1) continue;
        const sixteen = [...ids, ...ids.map((p) => p.slice(0, 2))];
        for (const n of [2, 8, 16]) assert.equal(await sessionBits(model, PLAN, sixteen.slice(0, n), 1, FORCED), reference, `batch ${n} differs from batch 1`);
        assert.equal(await sessionBits(model, PLAN, [ids[1]], 0, FORCED, { split: 5 }), reference, 'prompt split after 5 tokens differs');
      } finally {
        model.dispose();
      }
    }
  });

  test('default model, deterministic generate: each prompt gets the same tokens and log-probabilities in batch 1 and 8', async () => {
    const model = await load(MODEL, { intraOpThreads: 2 });
    try {
      const opts = { maxNewTokens: 6, amateurLayer: 15, deterministic: true };
      const key = (r) => JSON.stringify([r.tokens, bits(r.logProbs)]);
      const eight = await generate(model, PROMPTS, opts);
      for (const i of [0, 4, 7]) assert.is(key(eight[i]), key(await generate(model, PROMPTS[i], opts)), `prompt ${i}`);
    } finally {
      model.dispose();
    }
  });

  test('default model (4-bit), normal mode: batch 8 and prompt splits move logits by less than 5e-4', async () => {
    // The 4-bit products run ONNX Runtime's one-row MatMulNBits kernel at batch 1 and dequantise-then-SGEMM from
    // two rows on (measured up to 1.4e-4 apart); multi-token attention adds float32 rounding. The 1e-4 target of
    // issue 11 is for float32 weights (next test); deterministic mode removes both.
    const d = await invariance(MODEL);
    console.log(`  default model (q4): max |logit diff| batch 8 vs 1 ${d.batch.toExponential(2)}, split vs whole ${d.split.toExponential(2)}`);
    assert.ok(d.batch < 5e-4, `batch 8: ${d.batch}`);
    assert.ok(d.split < 5e-4, `split: ${d.split}`);
  });

  test('default model (4-bit): a row admitted into a running batch of a longer row (the server) decodes as alone', async () => {
    // The fused graph stores keys rotated by their cache column; admitting a shorter row moves it to later columns,
    // and the runtime rotates its keys on by the shift (before that fix its logits moved by up to 12).
    const model = await load(MODEL, { intraOpThreads: 2 });
    const rt = model.runtime;
    const V = model.vocabSize;
    const [x, y] = [PROMPTS[0], PROMPTS[1]].map((p) => model.tokenizer.encode(p));
    const prefilled = async (ids) => {
      const s = rt.createSequence({ batch: 1, maxLength: 64 });
      await s.prefill([ids]);
      return s;
    };
    try {
      const alone = await logitRows(rt, [x], 0);
      const batch = rt.createSequence({ batch: 2, maxLength: 64 });
      for (const ids of [y, x]) {
        const s = await prefilled(ids);
        await batch.admit(s, 0);
        s.dispose();
      }
      const rows = [];
      for (const f of FORCED) rows.push((await batch.step([f, f])).logits.slice(V, 2 * V));
      batch.dispose();
      const d = worst(rows, alone.slice(1));
      console.log(`  default model (q4): admitted row vs alone, max |logit diff| ${d.toExponential(2)}`);
      assert.ok(d < 5e-4, `admitted row: ${d}`);
    } finally {
      model.dispose();
    }
  });

  test('default model in float32: batch 8 and prompt splits move logits by less than 1e-4', async () => {
    if (!fs.existsSync(GGUF)) {
      console.log(`  skipped: float32 form needs the GGUF (${GGUF}: kept by \`npm run parity\`, or set PARITY_SMOLLM_GGUF)`);
      return;
    }
    const out = path.join(tempDir('ac-f32-'), 'smollm2-float32');
    await convert(GGUF, { out, weightForm: 'float32', exitOutputs: 'hidden' });
    const d = await invariance(out);
    fs.rmSync(out, { recursive: true, force: true });
    console.log(`  default model (float32): max |logit diff| batch 8 vs 1 ${d.batch.toExponential(2)}, split vs whole ${d.split.toExponential(2)}`);
    assert.ok(d.batch < 1e-4, `batch 8: ${d.batch}`);
    assert.ok(d.split < 1e-4, `split: ${d.split}`);
  });
}
test.run();
