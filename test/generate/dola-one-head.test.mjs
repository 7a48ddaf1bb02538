// DoLa's runtime without the graph's head product (src/model/graph/onnx/without-head.ts, ContrastModel.oneHeadRuntime):
// the edited graph outputs the head's input and zeros as `logits`, drops the head's nodes and matrix, refuses heads
// of another shape; generations through it (the kernel projecting the final layer with the candidates, the head read
// once) equal the two-head reference (AUTOCONTRAST_DOLA_ONE_HEAD=0: the graph's logits as the final layer) in
// tokens, chosen layers and log-probabilities to 1e-4, for mode 'dola' and amateurLayer 'auto', at batch 1 and 3,
// batched and deterministic (one-row sessions), on a folder without a final exit, one with a lens exit there, and
// one with the q4 form's head (the tied embedding's 8-bit values as two 4-bit MatMulNBits digits, accuracy level 0).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import graphPkg from 'autocontrast/graph';
import genPkg from 'autocontrast/generate';
import { buildModelFolder, ort, recompute } from '../runtime/helpers.mjs';
import { gen, runtimeSkip, tempDir } from './helpers.mjs';
// Internal module (not public): the folder writer, to build a folder with the q4 form's 8-bit head from a tiny graph.
import convertPkg from '../../dist/model/convert/write-built-folder.js';
import { randomQ8 } from '../convert/random-q4.mjs';

const skip = runtimeSkip();
const config = { ...graphPkg.TINY_LLAMA_CONFIG, numLayers: 4, vocabSize: 64 };
const N = config.numLayers;
const PROMPTS = [[3, 17, 5, 29, 11], [7, 2, 40], [9, 9, 30, 1, 55, 12, 4]];

let folders;
async function setup() {
  if (folders) return folders;
  // raw exits (transformers' DoLa: the residual stream through the head), no final exit; and lens exits up to N
  const raw = await buildModelFolder(config, { seed: 5, std: 0.4, exits: [1, 2, 3].map((layer) => ({ layer, kind: 'raw', logits: false })) });
  const lens = await buildModelFolder(config, { seed: 6, std: 0.4, exits: [1, 2, 3, 4].map((layer) => ({ layer, kind: 'lens', logits: false })) });
  folders = { raw, lens };
  return folders;
}

function graphOf(f) {
  const file = path.join(f.dir, f.manifest.graph.file);
  return { file, bytes: readFileSync(file), info: genPkg.readOnnxGraph(file) };
}

test('the edited graph: the head input as an output, zeros as logits, no head nodes or matrix; its hidden x head = the original logits', async () => {
  if (skip) return;
  const { raw } = await setup();
  const g = graphOf(raw);
  const span = genPkg.finalHeadSpan(g.info, raw.manifest, 1);
  assert.ok(span, 'the tiny folder has a recognisable head');
  assert.is(span.hiddenOutput, undefined, 'no final exit: the edited graph must output the head input itself');
  const bytes = graphPkg.graphWithoutHead(g.bytes, { ...span, vocabSize: config.vocabSize, exposeInputAs: 'final.hidden', hiddenSize: config.hiddenSize });
  const opts = { extra: { session: { model_external_initializers_file_folder_path: raw.dir } } };
  const edited = await ort.InferenceSession.create(bytes, opts);
  const original = await ort.InferenceSession.create(g.file);
  const m = { ...raw.manifest, exits: [...raw.manifest.exits, { layer: N, kind: 'lens', hiddenOutput: 'final.hidden' }] };
  const a = await recompute(original, raw.manifest, PROMPTS[2]);
  const b = await recompute(edited, m, PROMPTS[2]);
  assert.ok(b.logits.every((x) => x === 0), 'logits are zeros');
  const head = genPkg.loadHeadWeights(raw.dir, raw.manifest, g.info, 1);
  const d = config.hiddenSize;
  let worst = 0;
  for (let v = 0; v < config.vocabSize; v++) {
    let s = head.bias ? head.bias[v] : 0;
    for (let i = 0; i < d; i++) s += head.weight[v * d + i] * b['final.hidden'][i];
    worst = Math.max(worst, Math.abs(s - a.logits[v]));
  }
  assert.ok(worst < 1e-4, `hidden x head vs the graph's logits: ${worst}`);
  for (const e of raw.manifest.exits) assert.equal(Array.from(b[e.hiddenOutput]), Array.from(a[e.hiddenOutput]), `exit ${e.layer} unchanged`);
  // the head's nodes and matrix are gone, every other initializer and node is kept
  const file = path.join(tempDir(), 'edited.onnx');
  writeFileSync(file, bytes);
  const e = genPkg.readOnnxGraph(file);
  assert.ok(g.info.initializers.has(head.name) && !e.initializers.has(head.name), 'the head matrix is dropped');
  for (const n of e.nodes) for (const i of n.inputs) if (g.info.initializers.has(i)) assert.ok(e.initializers.has(i), `initializer ${i} kept`);
  assert.ok(e.nodes.length < g.info.nodes.length + 6, 'only the head went (and 5 nodes came)');
  assert.ok(!e.nodes.some((n) => n.inputs.includes(head.name)), 'no node reads the head');
  assert.is(e.nodes.filter((n) => n.outputs.includes('logits')).map((n) => n.opType).join(), 'ConstantOfShape');
  await edited.release();
  await original.release();
});

test('the edit refuses a head of another shape: a head tensor used elsewhere, an output that is not computed from the input', async () => {
  if (skip) return;
  const { raw } = await setup();
  const g = graphOf(raw);
  const span = genPkg.finalHeadSpan(g.info, raw.manifest, 1);
  // the exit-1 hidden output is not on the head's path: logits do not come from it
  assert.throws(() => graphPkg.graphWithoutHead(g.bytes, { input: raw.manifest.exits[0].hiddenOutput, output: span.output, vocabSize: config.vocabSize }), RangeError);
  // stopping at a tensor inside the layers: the head "span" would swallow nodes whose outputs other nodes use
  assert.throws(() => graphPkg.graphWithoutHead(g.bytes, { input: 'input_ids', output: span.output, vocabSize: config.vocabSize }), RangeError);
});

async function compare(f, options, label) {
  const model = await gen.load(f.dir);
  try {
    assert.ok(await model.oneHeadRuntime(model.candidateLayers(options.dolaLayers ?? 'high')[0]), `${label}: the one-head runtime opens`);
    for (const rows of [1, 3]) {
      for (const deterministic of [false, true]) {
        const o = { ...options, strategy: 'greedy', maxNewTokens: 10, minNewTokens: 10, deterministic };
        const fused = await gen.generate(model, PROMPTS.slice(0, rows), o);
        process.env.AUTOCONTRAST_DOLA_ONE_HEAD = '0';
        let ref;
        try {
          ref = await gen.generate(model, PROMPTS.slice(0, rows), o);
        } finally {
          delete process.env.AUTOCONTRAST_DOLA_ONE_HEAD;
        }
        for (let r = 0; r < rows; r++) {
          const tag = `${label} rows=${rows} deterministic=${deterministic} row ${r}`;
          assert.equal(fused[r].tokens, ref[r].tokens, `${tag}: tokens`);
          assert.equal(fused[r].amateurLayers, ref[r].amateurLayers, `${tag}: layers`);
          const worst = Math.max(...fused[r].logProbs.map((x, i) => Math.abs(x - ref[r].logProbs[i])));
          assert.ok(worst < 1e-4, `${tag}: log-probabilities ${worst}`);
        }
      }
    }
  } finally {
    model.dispose();
  }
}

test("mode 'dola' and amateurLayer 'auto' through the one-head runtime equal the two-head reference (no final exit)", async () => {
  if (skip) return;
  const { raw } = await setup();
  await compare(raw, { mode: 'dola', dolaLayers: [1, 2, 3] }, 'dola raw');
  await compare(raw, { mode: 'acd', amateurLayer: 'auto', dolaLayers: [1, 3] }, 'auto raw');
});

test("mode 'dola' through the one-head runtime equals the two-head reference (a lens exit at the final layer)", async () => {
  if (skip) return;
  const { lens } = await setup();
  const g = graphOf(lens);
  assert.is(genPkg.finalHeadSpan(g.info, lens.manifest, 1)?.hiddenOutput, `exit.${N}.hidden`, 'the final lens exit is the head input');
  await compare(lens, { mode: 'dola', dolaLayers: [1, 2, 3] }, 'dola lens');
});

test("the q4 form's head (the tied embedding's 8-bit values as two 4-bit MatMulNBits digits): the edit drops both digits, and mode 'dola' through the one-head runtime equals the two-head reference", async () => {
  if (skip) return;
  const cfg = { ...config, hiddenSize: 64, numHeads: 4, numKvHeads: 2, tieWordEmbeddings: true };
  const weights = new Map(graphPkg.tinyDecoderWeights(cfg, 8, { std: 0.4, vectorStd: 0.1 }));
  weights.set('model.embed_tokens.weight', randomQ8(cfg.vocabSize, cfg.hiddenSize, 78));
  const built = graphPkg.buildDecoderGraph(cfg, weights, {
    logitPositions: 'input', graphForm: 'fused', matMulNBits: { accuracyLevel: 0, head: 'q8' },
    exits: [1, 2, 3].map((layer) => ({ layer, kind: 'lens', logits: false })),
  });
  const dir = path.join(tempDir(), 'q8-head');
  const w = await convertPkg.writeBuiltFolder(dir, built, {});
  const f = { dir, manifest: w.manifest };
  const g = graphOf(f);
  const span = genPkg.finalHeadSpan(g.info, f.manifest, 1);
  assert.ok(span, 'the 8-bit head is recognised');
  const bytes = graphPkg.graphWithoutHead(g.bytes, { ...span, vocabSize: cfg.vocabSize, exposeInputAs: 'final.hidden', hiddenSize: cfg.hiddenSize });
  const file = path.join(tempDir(), 'edited-q8.onnx');
  writeFileSync(file, bytes);
  const e = genPkg.readOnnxGraph(file);
  assert.is(g.info.nodes.filter((n) => n.opType === 'MatMulNBits' && n.inputs.some((i) => i.includes('q8_'))).length, 2, 'two digit products in the original');
  assert.not.ok(e.nodes.some((n) => n.inputs.some((i) => i.includes('q8_'))), 'no digit product left');
  assert.not.ok([...e.initializers.keys()].some((k) => k.includes('q8_')), 'no digit matrix left');
  await compare(f, { mode: 'dola', dolaLayers: [1, 2, 3] }, 'dola q8 head');
});

test.run();
