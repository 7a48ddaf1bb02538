// MatMulNBits (4-bit weights kept quantised): layout checked numerically against float64.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { graph, manifest, ort, tempDir, step } from '../graph/helpers.mjs';
// Internal module under test (not public): the folder writer, to build a q4 folder from a tiny graph.
import convertPkg from '../../dist/model/convert/write-built-folder.js';
import { randomQ4, randomQ8 } from './random-q4.mjs';
// Internal module under test (not public): what exit fitting reads from a folder's graph.
import tapsPkg from '../../dist/train/graph-taps.js';
import gen from 'autocontrast/generate';

const { GraphBuilder, Ops, matMulNBits, q8Projection, buildLlamaGraph, tinyDecoderWeights, mulberry32 } = graph;
const { findHeadInitializers, readOnnxGraph } = gen;


async function runNBits(parts, x, xDims, options) {
  const g = new GraphBuilder('nbits');
  const ops = new Ops(g);
  const xin = g.input('x', 1, xDims.map((d, i) => (i === 2 ? d : `d${i}`)));
  const y = matMulNBits(ops, xin, 'w', parts.map((p, i) => ({ name: `p${i}`, weight: p })), options, 'y');
  const N = parts.reduce((s, p) => s + p.dims[0], 0);
  g.output(y, 1, ['d0', 'd1', N]);
  const dir = tempDir('ac-q4-');
  await graph.writeOnnxModel(g, { dir, modelFile: 'm.onnx', dataFile: 'm.onnx.data' });
  const s = await ort.InferenceSession.create(path.join(dir, 'm.onnx'));
  const out = await s.run({ x: new ort.Tensor('float32', x, xDims) });
  return out[y].data;
}

/** x · [W_1; W_2 ...]^T in float64. */
function reference(parts, x, rowsX, k) {
  const N = parts.reduce((s, p) => s + p.dims[0], 0);
  const out = new Float64Array(rowsX * N);
  for (let r = 0; r < rowsX; r++) {
    let col = 0;
    for (const p of parts) {
      for (let n = 0; n < p.dims[0]; n++, col++) {
        let acc = 0;
        for (let i = 0; i < k; i++) acc += x[r * k + i] * p.values[n * k + i];
        out[r * N + col] = acc;
      }
    }
  }
  return out;
}

function relErr(got, want) {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]));
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
  }
  return maxDiff / maxRef;
}

const K = 96;
const xDims = [2, 3, K];
const rnd = mulberry32(11);
const x = Float32Array.from({ length: 2 * 3 * K }, () => rnd() * 2 - 1);

for (const [kind, opts, tol] of [
  ['q4_0', { accuracyLevel: 0 }, 1e-4],
  ['q4_1', { accuracyLevel: 0 }, 1e-4],
  ['q4_1', { accuracyLevel: 0, q4_1: 'float-zero-point' }, 1e-4],
  ['q4_0', { accuracyLevel: 4 }, 2e-2],
  ['q4_1', { accuracyLevel: 4 }, 2e-2],
]) {
  test(`MatMulNBits ${kind} ${JSON.stringify(opts)} equals x · dequant(W)^T (fused parts)`, async () => {
    const parts = [randomQ4(kind, 5, K, 1, { zeroScaleBlock: true }), randomQ4(kind, 7, K, 2), randomQ4(kind, 4, K, 3)];
    const got = await runNBits(parts, x, xDims, opts);
    const e = relErr(got, reference(parts, x, 6, K));
    assert.ok(e < tol, `relative error ${e} >= ${tol}`);
  });
}

async function runQ8(w, x, xDims, level) {
  const g = new GraphBuilder('q8');
  const ops = new Ops(g);
  const xin = g.input('x', 1, xDims.map((d, i) => (i === 2 ? d : `d${i}`)));
  const project = q8Projection(ops, 'head', 'w', w, level);
  const y = project(xin, 'y');
  const y2 = project(xin, 'y2'); // a second projection (as an exit's logits) reuses the same initializers
  g.output(y, 1, ['d0', 'd1', w.dims[0]]);
  g.output(y2, 1, ['d0', 'd1', w.dims[0]]);
  const dir = tempDir('ac-q8-');
  await graph.writeOnnxModel(g, { dir, modelFile: 'm.onnx', dataFile: 'm.onnx.data' });
  const s = await ort.InferenceSession.create(path.join(dir, 'm.onnx'));
  const out = await s.run({ x: new ort.Tensor('float32', x, xDims) });
  return { y: out.y.data, y2: out.y2.data, nodes: g.nodes };
}

for (const [level, tol, nodes] of [[0, 1e-5, 2], [4, 2e-2, 1]]) {
  test(`8-bit head (Q8_0 blocks), accuracy level ${level}: ${nodes} MatMulNBits per projection, equal to x · dequant(W)^T`, async () => {
    const w = randomQ8(37, K, 9);
    const got = await runQ8(w, x, xDims, level);
    assert.is(got.nodes.filter((n) => n.opType === 'MatMulNBits').length, 2 * nodes);
    const want = reference([w], x, 6, K);
    const e = relErr(got.y, want);
    assert.ok(e < tol, `relative error ${e} >= ${tol}`);
    assert.equal(got.y2, got.y);
  });
}

test('canQuantizeQ8: needs 8-bit blocks and K % 32 == 0', () => {
  const w = randomQ8(4, 64, 1);
  assert.ok(graph.canQuantizeQ8(w));
  assert.not.ok(graph.canQuantizeQ8({ dims: w.dims, data: w.data }));
  assert.not.ok(graph.canQuantizeQ8({ ...w, dims: [8, 32 + 16] }));
});

test('canQuantize: mixed formats, missing blocks or K % 32 != 0 fall back', () => {
  const a = randomQ4('q4_0', 4, 64, 1);
  const b = randomQ4('q4_1', 4, 64, 2);
  assert.ok(graph.canQuantize([{ name: 'a', weight: a }]));
  assert.not.ok(graph.canQuantize([{ name: 'a', weight: a }, { name: 'b', weight: b }]));
  assert.not.ok(graph.canQuantize([{ name: 'a', weight: { dims: a.dims, data: a.data } }]));
});

// A small Llama whose linear weights are 4-bit: the MatMulNBits graph matches the float graph.
const CFG = {
  architecture: 'llama', numLayers: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, vocabSize: 50,
  contextLength: 64, intermediateSize: 96, normEpsilon: 1e-5, tieWordEmbeddings: true, ropeTheta: 10000, rotary: 'half',
};

async function tinyLlamaFolder(weights, opts, cfg = CFG) {
  const built = graph.buildDecoderGraph(cfg, weights, { logitPositions: 'all', exits: [{ layer: 1, kind: 'lens' }], ...opts });
  const dir = path.join(tempDir('ac-q4-'), 'model');
  const w = await convertPkg.writeBuiltFolder(dir, built, {});
  return { session: await ort.InferenceSession.create(path.join(dir, 'model.onnx')), m: w.manifest, built, dir };
}

function q4Weights() {
  const base = tinyDecoderWeights(CFG, 5, { std: 0.2, vectorStd: 0.1 });
  const weights = new Map(base);
  let seed = 100;
  for (const [name, w] of base) {
    if (/_proj\.weight$/.test(name)) weights.set(name, randomQ4(/mlp/.test(name) ? 'q4_1' : 'q4_0', w.dims[0], w.dims[1], seed++));
  }
  return weights;
}

test('weight and graph forms are recorded: float32 / q4 (level 0) / q4-fast (level 4), fused / reference', async () => {
  const weights = q4Weights();
  const cases = [
    [{}, 'float32', 'reference'],
    [{ matMulNBits: { accuracyLevel: 0 }, graphForm: 'fused' }, 'q4', 'fused'],
    [{ matMulNBits: { accuracyLevel: 4 } }, 'q4-fast', 'reference'],
  ];
  for (const [opts, form, graphForm] of cases) {
    const { m, built } = await tinyLlamaFolder(weights, opts);
    assert.is(built.weightForm, form);
    assert.is(m.weights.form, form);
    assert.is(m.weights.description, graph.weightFormSpec(form).description);
    assert.is(m.graph.form, graphForm);
    const level = built.graph.nodes.find((n) => n.opType === 'MatMulNBits')?.attributes.accuracy_level;
    assert.is(level?.value, graph.weightFormSpec(form).matMulNBits?.accuracyLevel);
  }
});

test('fused graph with 4-bit weights (level 0) matches the reference graph with float32 weights', async () => {
  const weights = q4Weights();
  const f = await tinyLlamaFolder(weights, {});
  const q = await tinyLlamaFolder(weights, { matMulNBits: { accuracyLevel: 0 }, graphForm: 'fused' });
  assert.is(q.built.graph.nodes.filter((n) => n.opType === 'GroupQueryAttention').length, 2);
  const ids = [[3, 17, 8, 42, 1]];
  const run = (s, mf) => step(s, mf, { ids, mask: [[1, 1, 1, 1, 1]], positions: [[0, 1, 2, 3, 4]] });
  const a = await run(f.session, f.m);
  const b = await run(q.session, q.m);
  for (const out of ['logits', 'exit.1.logits']) {
    const e = relErr(b[out].data, a[out].data);
    assert.ok(e < 1e-4, `${out}: relative error ${e}`);
  }
});

test('tied 8-bit embedding: the q8 head (levels 0 and 4) against the float32 head, fused and reference graphs', async () => {
  const base = q4Weights();
  const weights = new Map(base);
  weights.set('model.embed_tokens.weight', randomQ8(CFG.vocabSize, CFG.hiddenSize, 77));
  const f = await tinyLlamaFolder(weights, {});
  const ids = [[3, 17, 8, 42, 1]];
  const run = (s, mf) => step(s, mf, { ids, mask: [[1, 1, 1, 1, 1]], positions: [[0, 1, 2, 3, 4]] });
  const a = await run(f.session, f.m);
  for (const [opts, tol] of [
    [{ matMulNBits: { accuracyLevel: 0, head: 'q8' }, graphForm: 'fused' }, 1e-4],
    [{ matMulNBits: { accuracyLevel: 0, head: 'q8' } }, 1e-4],
    [{ matMulNBits: { accuracyLevel: 4, head: 'q8' }, graphForm: 'fused' }, 5e-2],
  ]) {
    const q = await tinyLlamaFolder(weights, opts);
    const head = q.built.graph.nodes.filter((n) => n.opType === 'MatMulNBits' && n.attributes.N.value === CFG.vocabSize);
    // logits and exit 1's logits, each 2 (level 0: two 4-bit digits) or 1 (level 4: 8 bits) node(s)
    assert.is(head.length, opts.matMulNBits.accuracyLevel === 0 ? 4 : 2, JSON.stringify(opts));
    assert.not.ok(q.built.graph.nodes.some((n) => n.opType === 'Gemm'), 'no float head left');
    const b = await run(q.session, q.m);
    for (const out of ['logits', 'exit.1.logits']) {
      const e = relErr(b[out].data, a[out].data);
      assert.ok(e < tol, `${JSON.stringify(opts)} ${out}: relative error ${e}`);
    }
    // the sparse amateur finds the head's values in the float32 embedding
    const g = readOnnxGraph(path.join(q.dir, 'model.onnx'));
    assert.equal(findHeadInitializers(g, q.m, 1), { matrix: 'model.embed_tokens.weight' });
    // exit fitting reads the same float32 values as its head, and the final norm before the quantised product
    const taps = tapsPkg.findGraphTaps(g, q.m, [1]);
    const floatTaps = tapsPkg.findGraphTaps(readOnnxGraph(path.join(f.dir, 'model.onnx')), f.m, [1]);
    assert.equal(taps.head, { matrix: 'model.embed_tokens.weight', bias: undefined }, JSON.stringify(opts));
    assert.equal(taps.norm, floatTaps.norm, JSON.stringify(opts));
    assert.equal([...taps.residuals.keys()].sort(), [1, 2]);
    for (const [L, name] of taps.residuals) {
      const producer = g.nodes.find((n) => n.outputs.includes(name));
      assert.ok(producer && /Add|SkipSimplifiedLayerNormalization/.test(producer.opType), `layer ${L}: ${name} is a residual sum (${producer?.opType})`);
    }
  }
  // an untied head stays a float Gemm (the sparse amateur reads its float32 matrix)
  const untied = new Map(weights);
  untied.set('lm_head.weight', randomQ8(CFG.vocabSize, CFG.hiddenSize, 78));
  const u = await tinyLlamaFolder(untied, { matMulNBits: { accuracyLevel: 0, head: 'q8' }, graphForm: 'fused' }, { ...CFG, tieWordEmbeddings: false });
  assert.ok(u.built.graph.nodes.some((n) => n.opType === 'Gemm'));
  assert.equal(findHeadInitializers(readOnnxGraph(path.join(u.dir, 'model.onnx')), u.m, 1), { matrix: 'lm_head.weight', bias: undefined });
});

test('Llama graph with 4-bit linear weights matches the float32 graph', async () => {
  const base = tinyDecoderWeights(CFG, 5, { std: 0.2, vectorStd: 0.1 });
  const weights = new Map(base);
  let seed = 100;
  for (const [name, w] of base) {
    if (/_proj\.weight$/.test(name)) {
      const kind = /mlp/.test(name) ? 'q4_1' : 'q4_0';
      weights.set(name, randomQ4(kind, w.dims[0], w.dims[1], seed++));
    }
  }
  const f = await tinyLlamaFolder(weights, {});
  const q = await tinyLlamaFolder(weights, { matMulNBits: { accuracyLevel: 0 } });
  const types = q.built.graph.nodes.filter((n) => n.opType === 'MatMulNBits').length;
  assert.is(types, 2 * 4, 'qkv, o, gate/up and down in each layer');
  const ids = [[3, 17, 8, 42, 1]];
  const run = (s, mf) => step(s, mf, { ids, mask: [[1, 1, 1, 1, 1]], positions: [[0, 1, 2, 3, 4]] });
  const a = await run(f.session, f.m);
  const b = await run(q.session, q.m);
  for (const out of ['logits', 'exit.1.logits']) {
    const e = relErr(b[out].data, a[out].data);
    assert.ok(e < 1e-4, `${out}: relative error ${e}`);
  }
});

test.run();
