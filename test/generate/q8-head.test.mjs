// The runtime's 8-bit output head (src/generate/q8-head.ts, native/runtime/output_head.cc): the representability
// check (a Q8_0 head is recognised exactly, a float head that is not falls back to the graph's head), generations
// through it equal to the graph's own head (AUTOCONTRAST_Q8_HEAD=0) in tokens and log-probabilities for plain
// decoding and ACD with the sparse and the dense amateur, batch 1 and 3, fused loop and chain; the same on the
// default model when it is pulled; and the native checks of the runtime's outputHead argument.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { cachedModelDir, nativeInfo } from 'autocontrast';
import graphPkg from 'autocontrast/graph';
import kernelPkg from 'autocontrast/kernel';
import { buildModelFolder } from '../runtime/helpers.mjs';
import { gen, runtimeSkip, tempDir } from './helpers.mjs';
// Internal module (not public): the folder writer, to build a folder with the q4 form's 8-bit head from a tiny graph.
import convertPkg from '../../dist/model/convert/write-built-folder.js';
import { q8Head } from '../helpers/q8-head.mjs';

const { compactHead } = kernelPkg;
const skip = runtimeSkip();
const cfg = { ...graphPkg.TINY_LLAMA_CONFIG, numLayers: 4, hiddenSize: 64, numHeads: 4, numKvHeads: 2, vocabSize: 96, tieWordEmbeddings: true };
const PROMPTS = [[3, 17, 5, 29, 11], [7, 2, 40], [9, 9, 30, 1, 55, 12, 4]];

/** A Q8_0 embedding as the GGUF importer hands it over: float32 values code x scale, and the blocks themselves. */
function q8Embedding(V, d, seed) {
  const { codes, scales } = q8Head(V, d, seed);
  return { dims: [V, d], data: Float32Array.from(codes, (q, i) => q * scales[i >> 5]), q8: { read: () => ({ scales, codes }) }, codes, scales };
}

let folder;
/** A tiny fused Llama folder in the q4 form's head layout (the tied 8-bit embedding as two 4-bit digit products). */
async function q8Folder() {
  if (folder) return folder;
  const weights = new Map(graphPkg.tinyDecoderWeights(cfg, 8, { std: 0.4, vectorStd: 0.1 }));
  weights.set('model.embed_tokens.weight', q8Embedding(cfg.vocabSize, cfg.hiddenSize, 78));
  const built = graphPkg.buildDecoderGraph(cfg, weights, {
    logitPositions: 'input', graphForm: 'fused', matMulNBits: { accuracyLevel: 0, head: 'q8' },
    exits: [1, 2, 3].map((layer) => ({ layer, kind: 'lens' })),
  });
  const dir = path.join(tempDir(), 'q8-head');
  await convertPkg.writeBuiltFolder(dir, built, {});
  return (folder = dir);
}

async function withEnv(name, value, fn) {
  const old = process.env[name];
  process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env[name];
    else process.env[name] = old;
  }
}

test('representability: a Q8_0 head comes back exactly (zero blocks too); a float head that is not one does not', () => {
  const V = 40, d = 64;
  const e = q8Embedding(V, d, 5);
  e.data.fill(0, 64, 96); // one all-zero block
  const c = compactHead(e.data, V, d);
  assert.ok(c, 'the planted Q8_0 head is detected');
  assert.equal(Array.from(c.q8.subarray(0, 64)), Array.from(e.codes.subarray(0, 64)), 'codes');
  assert.is(c.scale[0], e.scales[0], 'scale');
  assert.is(c.scale[2], 0, 'an all-zero block has scale 0');
  const nudged = Float32Array.from(e.data);
  nudged[100] = Math.fround(nudged[100] * (1 + 2 ** -20));
  assert.is(compactHead(nudged, V, d), null, 'one value off its block grid');
  const float = Float32Array.from({ length: V * d }, (_, i) => Math.sin(i * 0.37) * 0.1);
  assert.is(compactHead(float, V, d), null, 'a float32 head');
});

test('load: the q4 form\'s 8-bit head runs in the runtime\'s kernel; a float32 head and AUTOCONTRAST_Q8_HEAD=0 keep the graph\'s', async () => {
  if (skip) return;
  const model = await gen.load(await q8Folder());
  const ref = await withEnv('AUTOCONTRAST_Q8_HEAD', '0', () => gen.load(folder));
  const floatFolder = await buildModelFolder({ ...cfg, tieWordEmbeddings: false }, { seed: 3, std: 0.4, exits: [{ layer: 2, kind: 'lens' }] });
  const plainFloat = await gen.load(floatFolder.dir);
  try {
    assert.is(model.runtime.outputHead, 'q8');
    assert.is(ref.runtime.outputHead, 'graph');
    assert.is(plainFloat.runtime.outputHead, 'graph', 'a random float32 head is not 8-bit blocks');
    // the runtime's logits: every row of a prefill with different lengths, then steps, against the graph's
    const V = cfg.vocabSize;
    const a = model.runtime.createSequence({ batch: 3, maxLength: 32 });
    const b = ref.runtime.createSequence({ batch: 3, maxLength: 32 });
    let worst = 0;
    const cmp = (x, y) => {
      for (let i = 0; i < 3 * V; i++) worst = Math.max(worst, Math.abs(x.logits[i] - y.logits[i]) / (1 + Math.abs(y.logits[i])));
    };
    cmp(await a.prefill(PROMPTS), await b.prefill(PROMPTS));
    for (const t of [5, 61, 2]) cmp(await a.step([t, t + 1, t + 2]), await b.step([t, t + 1, t + 2]));
    a.dispose();
    b.dispose();
    assert.ok(worst < 1e-5, `logits vs the graph's head: ${worst}`);
  } finally {
    model.dispose();
    ref.dispose();
    plainFloat.dispose();
  }
});

/** Generations on `dir` with the runtime's head and with the graph's: the same tokens, log-probabilities to `tol`. */
async function compareHeads(dir, cases, tol, label) {
  const model = await gen.load(dir);
  const ref = await withEnv('AUTOCONTRAST_Q8_HEAD', '0', () => gen.load(dir));
  let worst = 0;
  try {
    assert.is(model.runtime.outputHead, 'q8', `${label}: the 8-bit head runs`);
    for (const { name, prompts, options, fused } of cases) {
      for (const rows of [1, 3]) {
        const o = { strategy: 'greedy', maxNewTokens: 12, minNewTokens: 12, ...options };
        const run = (m) => (fused ? withEnv('AUTOCONTRAST_FUSED', fused, () => gen.generate(m, prompts.slice(0, rows), o)) : gen.generate(m, prompts.slice(0, rows), o));
        const got = await run(model);
        const want = await run(ref);
        for (let r = 0; r < rows; r++) {
          const tag = `${label} ${name} rows=${rows} row ${r}`;
          assert.is(got[r].timing.head, 'q8', `${tag}: timing says the 8-bit head ran`);
          assert.is(want[r].timing.head, 'graph', `${tag}: the reference ran the graph's head`);
          assert.equal(got[r].tokens, want[r].tokens, `${tag}: tokens`);
          for (let i = 0; i < got[r].logProbs.length; i++) worst = Math.max(worst, Math.abs(got[r].logProbs[i] - want[r].logProbs[i]));
        }
      }
    }
  } finally {
    model.dispose();
    ref.dispose();
  }
  console.log(`  ${label}: max |log-probability difference| ${worst.toExponential(2)}`);
  assert.ok(worst <= tol, `${label}: log-probabilities ${worst}`);
}

test('generations through the 8-bit head equal the graph\'s head: plain, ACD sparse and dense, fused loop and chain, batch 1 and 3', async () => {
  if (skip) return;
  const dir = await q8Folder();
  await compareHeads(dir, [
    { name: 'plain', prompts: PROMPTS, options: { contrast: false } },
    { name: 'plain chain', prompts: PROMPTS, options: { contrast: false }, fused: '0' },
    { name: 'acd sparse', prompts: PROMPTS, options: { amateurLayer: 2, amateurPath: 'sparse' } },
    { name: 'acd dense', prompts: PROMPTS, options: { amateurLayer: 2, amateurPath: 'dense' } },
    { name: 'acd dense step', prompts: PROMPTS, options: { amateurLayer: 2, amateurPath: 'dense' }, fused: 'step' },
    { name: 'acd sparse chain', prompts: PROMPTS, options: { amateurLayer: 2, amateurPath: 'sparse' }, fused: '0' },
  ], 1e-5, 'tiny q8 folder');
});

const MODEL = cachedModelDir('smollm2-135m');
test('the default model: plain and ACD (sparse, the default) through the 8-bit head equal the graph\'s head, batch 1 and 3', async () => {
  if (skip) return;
  if (!fs.existsSync(path.join(MODEL, 'autocontrast.json'))) {
    console.log(`  skipped: default model not pulled (${MODEL} is absent; \`autocontrast pull smollm2-135m\` installs it)`);
    return;
  }
  const prompts = ['The capital of France is', 'Once upon a time, in a small village,', 'Water boils at'];
  // log-softmax over 49152 logits of magnitude up to ~30 summed in another order: measured 1.4e-5 at most over these
  await compareHeads(MODEL, [
    { name: 'plain', prompts, options: { contrast: false } },
    { name: 'acd', prompts, options: { amateurLayer: 15 } },
  ], 3e-5, 'default model');
});

test('the runtime checks the outputHead it is given, with codes', async () => {
  if (skip) return;
  const dir = await q8Folder();
  const model = await gen.load(dir);
  const addon = createRequire(import.meta.url)(nativeInfo().path);
  const V = cfg.vocabSize, d = cfg.hiddenSize;
  const d0 = model.runtime.description;
  model.dispose();
  const raw = {
    graphPath: d0.graphPath, graphBytes: d0.graphBytes, numLayers: d0.numLayers, numKvHeads: d0.numKvHeads, headDim: d0.headDim,
    vocabSize: V, hiddenSize: d, contextLength: d0.contextLength, logitPositions: d0.logitPositions, numLogitsToKeep: 'num_logits_to_keep',
    pastKey: Array.from({ length: d0.numLayers }, (_, i) => `past_key_values.${i}.key`), pastValue: Array.from({ length: d0.numLayers }, (_, i) => `past_key_values.${i}.value`),
    presentKey: Array.from({ length: d0.numLayers }, (_, i) => `present.${i}.key`), presentValue: Array.from({ length: d0.numLayers }, (_, i) => `present.${i}.value`),
    exits: d0.exits, keyRotation: { invFreq: Float64Array.from(d0.keyRotation.invFreq), interleaved: d0.keyRotation.interleaved },
  };
  assert.is(d0.outputHead.codes.length, 0, 'the loaded description does not hold the head twice');
  const head = { hiddenOutput: d0.outputHead.hiddenOutput, codes: new Int8Array(V * d), scales: new Float32Array((V * d) / 32) };
  const ok = await addon.rtLoadModel({ ...raw, outputHead: head });
  assert.is(ok.outputHead, 'q8', 'the good description loads');
  addon.rtDisposeModel(ok.handle);
  const bad = (h, kind, code, re) => {
    try {
      addon.rtLoadModel({ ...raw, outputHead: h });
    } catch (e) {
      assert.instance(e, kind, e.message);
      assert.is(e.code, code, e.message);
      assert.match(e.message, re);
      return;
    }
    assert.unreachable(`accepted ${JSON.stringify(Object.keys(h ?? {}))}`);
  };
  bad(5, TypeError, 'ERR_INVALID_ARG_TYPE', /outputHead/);
  bad({ ...head, codes: new Uint8Array(V * d) }, TypeError, 'ERR_INVALID_ARG_TYPE', /codes/);
  bad({ ...head, codes: new Int8Array(V * d - 32) }, RangeError, 'ERR_OUT_OF_RANGE', /codes/);
  bad({ ...head, codes: Int8Array.from({ length: V * d }, (_, i) => (i === 9 ? -128 : 0)) }, RangeError, 'ERR_OUT_OF_RANGE', /-128/);
  bad({ ...head, scales: new Float32Array(V) }, RangeError, 'ERR_OUT_OF_RANGE', /scales/);
  bad({ ...head, scales: Float32Array.from({ length: (V * d) / 32 }, (_, i) => (i ? 1 : Infinity)) }, RangeError, 'ERR_OUT_OF_RANGE', /finite/);
  bad({ ...head, scales: undefined }, TypeError, 'ERR_INVALID_ARG_TYPE', /scales/);
  bad({ ...head, hiddenOutput: '' }, RangeError, 'ERR_OUT_OF_RANGE', /hiddenOutput/);
  bad({ ...head, hiddenOutput: 7 }, TypeError, 'ERR_INVALID_ARG_TYPE', /hiddenOutput/);
  // a name the graph does not output: refused when the session is opened
  let err;
  await addon.rtLoadModel({ ...raw, outputHead: { ...head, hiddenOutput: 'no.such.output' } }).catch((e) => (err = e));
  assert.ok(err, 'an unknown hidden output is refused');
  assert.is(err.code, 'ERR_OUT_OF_RANGE');
  assert.match(err.message, /no\.such\.output/);
});

test.run();
