// The opt-in `q4-sym` weight form: 4-bit blocks dequantised and re-quantised symmetric (ONNX Runtime's blockwise
// int4 rule, the one onnxruntime-genai's builder uses), with no Q4_1 minimum term in the graph.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { graph, ort, tempDir, step } from '../graph/helpers.mjs';
// Internal module under test (not public): the folder writer, to build a q4-sym folder from a tiny graph.
import convertPkg from '../../dist/model/convert/write-built-folder.js';
import { randomQ4, randomQ8 } from './random-q4.mjs';

const { GraphBuilder, Ops, matMulNBits, symmetricQ4Projection, requantizeSymmetricBlock, requantizeQ4Symmetric, tinyDecoderWeights, mulberry32 } = graph;

/** Element e of a 16-byte ggml-ordered code block. */
const codeAt = (codes, at, e) => (e < 16 ? codes[at + e] & 15 : codes[at + e - 16] >> 4);

test('requantizeSymmetricBlock: hand-derived scales and codes (largest magnitude -> code 0, ties to the minimum, half away from zero)', () => {
  const codes = new Uint8Array(16);
  // largest magnitude -2 (negative): scale 0.25; v / 0.25 + 8
  const v = new Float32Array(32);
  v.set([-2, 1, 0.5, 0.125, -0.125, 1.9, 0.375]);
  assert.is(requantizeSymmetricBlock(v, codes, 0), 0.25);
  // -2 -> 0; 1 -> 12; 0.5 -> 10; 0.125 -> 8.5 -> 9; -0.125 -> 7.5 -> 8; 1.9 -> 15.6 -> 16 -> 15 (clamped); 0.375 -> 9.5 -> 10; 0 -> 8
  assert.equal(Array.from({ length: 8 }, (_, e) => codeAt(codes, 0, e)), [0, 12, 10, 9, 8, 15, 10, 8]);
  // element 16 is in byte 0's high nibble
  v.fill(0);
  v[16] = -2;
  v[0] = 1;
  requantizeSymmetricBlock(v, codes, 0);
  assert.is(codes[0], 12 | (0 << 4));
  // positive largest magnitude 4: scale -0.5, 4 -> 0, -1 -> 10
  v.fill(0);
  v[3] = 4;
  v[4] = -1;
  assert.is(requantizeSymmetricBlock(v, codes, 0), -0.5);
  assert.is(codeAt(codes, 0, 3), 0);
  assert.is(codeAt(codes, 0, 4), 10);
  // tie |2| = |-2|: the minimum wins (scale 0.25), so 2 -> 16 -> 15
  v.fill(0);
  v[0] = 2;
  v[1] = -2;
  assert.is(requantizeSymmetricBlock(v, codes, 0), 0.25);
  assert.is(codeAt(codes, 0, 0), 15);
  assert.is(codeAt(codes, 0, 1), 0);
  // all zero: scale 0, every code 8
  v.fill(0);
  assert.is(requantizeSymmetricBlock(v, codes, 0), 0);
  assert.ok(codes.every((c) => c === 0x88));
});

/** Float64 reference of the symmetric rule, written independently of the module: the re-quantised values. */
function symmetricValues(values) {
  const out = new Float64Array(values.length);
  for (let b = 0; b < values.length; b += 32) {
    const blk = Array.from(values.subarray(b, b + 32));
    const lo = Math.min(...blk);
    const hi = Math.max(...blk);
    const scale = Math.fround((Math.abs(hi) > Math.abs(lo) ? hi : lo) / -8);
    for (let e = 0; e < 32; e++) {
      if (scale === 0) continue;
      const t = Math.fround(Math.fround(blk[e] * Math.fround(1 / scale)) + 8);
      const q = Math.min(15, Math.max(0, Math.sign(t) * Math.round(Math.abs(t))));
      out[b + e] = (q - 8) * scale;
    }
  }
  return out;
}

test('requantizeQ4Symmetric: Q4_0 and Q4_1 blocks re-quantised from their own float values, within half a step', () => {
  for (const kind of ['q4_0', 'q4_1']) {
    const w = randomQ4(kind, 6, 64, kind === 'q4_0' ? 3 : 4, { zeroScaleBlock: true });
    const r = requantizeQ4Symmetric(w.q4.read(), kind);
    assert.is(r.mins, null);
    const want = symmetricValues(w.data);
    for (let b = 0; b < r.scales.length; b++) {
      for (let e = 0; e < 32; e++) {
        const got = (codeAt(r.codes, b * 16, e) - 8) * r.scales[b];
        assert.ok(Math.abs(got - want[b * 32 + e]) <= 1e-7 * Math.abs(want[b * 32 + e]), `${kind} block ${b} element ${e}: ${got} vs ${want[b * 32 + e]}`);
        assert.ok(Math.abs(got - w.data[b * 32 + e]) <= Math.abs(r.scales[b]) / 2 + 1e-7, `${kind}: more than half a step from the source value`);
      }
    }
    // a Q4_0 block whose code 0 is present keeps its values exactly (-8 d is the largest magnitude)
    if (kind === 'q4_0') {
      const b = w.q4.read();
      for (let blk = 0; blk < b.scales.length; blk++) {
        const has0 = Array.from({ length: 32 }, (_, e) => codeAt(b.codes, blk * 16, e)).includes(0);
        if (has0 && b.scales[blk] > 0) assert.is(r.scales[blk], b.scales[blk]);
      }
    }
  }
});

async function runGraph(build, x, xDims) {
  const g = new GraphBuilder('sym');
  const ops = new Ops(g);
  const xin = g.input('x', 1, xDims.map((d, i) => (i === 2 ? d : `d${i}`)));
  const [y, n] = build(ops, xin);
  g.output(y, 1, ['d0', 'd1', n]);
  const dir = tempDir('ac-q4sym-');
  await graph.writeOnnxModel(g, { dir, modelFile: 'm.onnx', dataFile: 'm.onnx.data' });
  const s = await ort.InferenceSession.create(path.join(dir, 'm.onnx'));
  return { y: (await s.run({ x: new ort.Tensor('float32', x, xDims) }))[y].data, nodes: g.nodes };
}

function maxRelErr(got, x, values, rows, k, n) {
  let maxRef = 0;
  let maxDiff = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < n; c++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += x[r * k + i] * values[c * k + i];
      maxRef = Math.max(maxRef, Math.abs(acc));
      maxDiff = Math.max(maxDiff, Math.abs(got[r * n + c] - acc));
    }
  }
  return maxDiff / maxRef;
}

const K = 96;
const rnd = mulberry32(21);
const x = Float32Array.from({ length: 2 * 3 * K }, () => rnd() * 2 - 1);

test('MatMulNBits with requantize symmetric (level 0): x · W_sym^T, one node, no zero points, no minimum term', async () => {
  const parts = [randomQ4('q4_1', 5, K, 1, { zeroScaleBlock: true }), randomQ4('q4_1', 7, K, 2)];
  const { y, nodes } = await runGraph((ops, xin) => [matMulNBits(ops, xin, 'w', parts.map((p, i) => ({ name: `p${i}`, weight: p })), { accuracyLevel: 0, requantize: 'symmetric' }, 'y'), 12], x, [2, 3, K]);
  assert.equal(nodes.map((n) => n.opType), ['MatMulNBits']);
  assert.is(nodes[0].inputs.length, 3);
  const values = new Float64Array(12 * K);
  values.set(symmetricValues(parts[0].data), 0);
  values.set(symmetricValues(parts[1].data), 5 * K);
  const e = maxRelErr(y, x, values, 6, K, 12);
  assert.ok(e < 1e-5, `relative error ${e}`);
});

test('symmetricQ4Projection (the q4-sym head): x · W_sym^T of the float32 matrix', async () => {
  const w = randomQ8(37, K, 9);
  const { y, nodes } = await runGraph((ops, xin) => [symmetricQ4Projection(ops, 'head', 'w', w, 0)(xin, 'y'), 37], x, [2, 3, K]);
  assert.equal(nodes.map((n) => n.opType), ['MatMulNBits']);
  const e = maxRelErr(y, x, symmetricValues(w.data), 6, K, 37);
  assert.ok(e < 1e-5, `relative error ${e}`);
});

const CFG = {
  architecture: 'llama', numLayers: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, vocabSize: 50,
  contextLength: 64, intermediateSize: 96, normEpsilon: 1e-5, tieWordEmbeddings: true, ropeTheta: 10000, rotary: 'half',
};

async function tinyFolder(weights, opts) {
  const built = graph.buildDecoderGraph(CFG, weights, { logitPositions: 'all', exits: [{ layer: 1, kind: 'lens' }], ...opts });
  const dir = path.join(tempDir('ac-q4sym-'), 'model');
  const w = await convertPkg.writeBuiltFolder(dir, built, {});
  return { session: await ort.InferenceSession.create(path.join(dir, 'model.onnx')), m: w.manifest, built };
}

test('q4-sym form: recorded, no minimum-term nodes, fused and reference graphs agree (level 0) to 1e-4', async () => {
  const base = tinyDecoderWeights(CFG, 5, { std: 0.2, vectorStd: 0.1 });
  const weights = new Map(base);
  let seed = 200;
  for (const [name, w] of base) if (/_proj\.weight$/.test(name)) weights.set(name, randomQ4(/mlp/.test(name) ? 'q4_1' : 'q4_0', w.dims[0], w.dims[1], seed++));
  weights.set('model.embed_tokens.weight', randomQ8(CFG.vocabSize, CFG.hiddenSize, 79));
  const spec = graph.weightFormSpec('q4-sym');
  const q = await tinyFolder(weights, { matMulNBits: spec.matMulNBits, graphForm: 'fused' });
  assert.is(q.built.weightForm, 'q4-sym');
  assert.is(q.m.weights.form, 'q4-sym');
  assert.not.ok(q.built.graph.nodes.some((n) => n.opType === 'ReduceSum'), 'no Q4_1 minimum term');
  // the tied head: one 4-bit MatMulNBits per projection (logits, exit 1's logits), no float Gemm
  const head = q.built.graph.nodes.filter((n) => n.opType === 'MatMulNBits' && n.attributes.N.value === CFG.vocabSize);
  assert.equal(head.map((n) => n.attributes.bits.value), [4, 4]);
  assert.not.ok(q.built.graph.nodes.some((n) => n.opType === 'Gemm'), 'no float head left');
  const ids = [[3, 17, 8, 42, 1]];
  const run = (s, mf) => step(s, mf, { ids, mask: [[1, 1, 1, 1, 1]], positions: [[0, 1, 2, 3, 4]] });
  const level0 = { ...spec.matMulNBits, accuracyLevel: 0 };
  const a = await run((await tinyFolder(weights, { matMulNBits: level0, graphForm: 'fused' })).session, q.m);
  const b = await run((await tinyFolder(weights, { matMulNBits: level0, graphForm: 'reference' })).session, q.m);
  for (const out of ['logits', 'exit.1.logits']) {
    let maxRef = 0;
    let maxDiff = 0;
    for (let i = 0; i < a[out].data.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(a[out].data[i]));
      maxDiff = Math.max(maxDiff, Math.abs(a[out].data[i] - b[out].data[i]));
    }
    assert.ok(maxDiff / maxRef < 1e-4, `${out}: relative error ${maxDiff / maxRef}`);
  }
});

test.run();
