// Issue 17, "let the graph project the candidates": is ONE head product in ONNX Runtime over the final layer's and
// the candidates' rows ([rows x (C+1), d], the head the q4 folder's graph runs) faster than the native DoLa kernel's
// batched projection of the candidates alone? Same process, alternating, medians. Timed per step:
//   - native: lib.candidateLogits on the model's own head in its exact int8 block form (what mode 'dola' runs),
//     rows x C rows;
//   - ort digits acc0: the q4 folder's own head as its graph holds it (two 4-bit digit MatMulNBits, accuracy_level 0:
//     float32 activations), rows x (C+1) rows, and 1 row (the plain step's head) for the difference;
//   - ort q8 acc4: one 8-bit MatMulNBits at accuracy_level 4 (activations quantised to int8 per block: NOT the
//     folder's head, an approximation, for reference), rows x (C+1);
//   - ort gemm: the float32 folder's head (Gemm on the float matrix), rows x (C+1).
// ORT's timings do not depend on the values (random codes and scales of the folder's shapes).
// Usage: node bench/dola-head-route.mjs [MODEL] [--out=PATH_WITHOUT_EXTENSION]; writes bench/results/dola-head-route.{json,md}
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

import lib from '../dist/index.js';
import { GraphBuilder } from '../dist/model/graph/onnx/graph-builder.js';
import { attr, OnnxDataType } from '../dist/model/graph/onnx/onnx-types.js';
import { Ops } from '../dist/model/graph/onnx/ops.js';
import { float32Source } from '../dist/model/graph/onnx/tensor-source.js';
import { encodeOnnxModel } from '../dist/model/graph/onnx/write-onnx-model.js';
import { fmt, machine, mdTable, median } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const modelArg = args.find((a) => !a.startsWith('--')) ?? 'smollm2-135m';
const outArg = args.find((a) => a.startsWith('--out='))?.slice(6);
const REPS = 9;
const load0 = os.loadavg();
const model = await lib.load(modelArg);
const layers = model.candidateLayers('high');
const C = layers.length;
const { weight } = model.candidateHead(layers[0]);
const V = model.vocabSize;
const K = model.manifest.hiddenSize;
const kb = K / 32;
const threads = model.runtime.threads;

let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 4;
const bytes = (n) => Uint8Array.from({ length: n }, () => (rnd() * 64) & 255);
const scales = () => Float32Array.from({ length: V * kb }, () => 1e-3 * (1 + Math.abs(rnd())));
const u8 = (dims, data) => ({ dataType: OnnxDataType.UINT8, dims, bytes: async () => data });
async function session(kind) {
  const g = new GraphBuilder('head');
  const ops = new Ops(g);
  g.useDomain('com.microsoft', 1);
  const x = g.input('x', OnnxDataType.FLOAT, ['M', K]);
  const A = (bits, acc) => ({ K: attr.int(K), N: attr.int(V), bits: attr.int(bits), block_size: attr.int(32), accuracy_level: attr.int(acc) });
  const ms = { domain: 'com.microsoft' };
  let y;
  if (kind === 'digits') {
    const hi = g.node('MatMulNBits', [x, g.initializer('hb', u8([V, kb, 16], bytes((V * K) / 2))), g.initializer('hs', float32Source(scales(), [V * kb]))], A(4, 0), ms)[0];
    const zp = V * Math.ceil(kb / 2);
    const lo = g.node('MatMulNBits', [x, g.initializer('lb', u8([V, kb, 16], bytes((V * K) / 2))), g.initializer('ls', float32Source(scales(), [V * kb])), g.initializer('lz', u8([zp], new Uint8Array(zp)))], A(4, 0), ms)[0];
    y = ops.add(hi, lo);
  } else if (kind === 'q8') {
    y = g.node('MatMulNBits', [x, g.initializer('b', u8([V, kb, 32], bytes(V * K))), g.initializer('s', float32Source(scales(), [V * kb]))], A(8, 4), ms)[0];
  } else {
    y = ops.gemm(x, g.initializer('w', float32Source(Float32Array.from({ length: V * K }, rnd), [V, K])), undefined, { transB: true });
  }
  g.outputAs(y, 'y', OnnxDataType.FLOAT, ['M', V]);
  return ort.InferenceSession.create(await encodeOnnxModel(g), {
    graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}
const sessions = { digits: await session('digits'), q8: await session('q8'), gemm: await session('gemm') };
const floatHead = Float32Array.from(weight.q8, (q, i) => q * weight.scale[i >> 5]);
const results = { model: model.dir, candidates: C, vocab: V, hiddenSize: K, threads, machine: machine({ loadAvgBefore: load0 }), batches: {} };
const rows = [];
for (const B of [1, 8]) {
  const hid = (n) => Float32Array.from({ length: n * K }, rnd);
  const cand = hid(B * C);
  const all = hid(B * (C + 1));
  const t = { native: [], nativeFloat: [], digitsAll: [], digitsFinal: [], q8All: [], gemmAll: [] };
  const ortRun = async (s, x, n) => { const t0 = performance.now(); await s.run({ x: new ort.Tensor('float32', x, [n, K]) }); return performance.now() - t0; };
  for (let rep = 0; rep <= REPS; rep++) {
    let t0 = performance.now();
    lib.candidateLogits(cand, weight, { hiddenSize: K, vocabSize: V });
    const a = performance.now() - t0;
    t0 = performance.now();
    lib.candidateLogits(cand, floatHead, { hiddenSize: K, vocabSize: V });
    const b = performance.now() - t0;
    const c = await ortRun(sessions.digits, all, B * (C + 1));
    const d = await ortRun(sessions.digits, all.subarray(0, B * K), B);
    const e = await ortRun(sessions.q8, all, B * (C + 1));
    const f = await ortRun(sessions.gemm, all, B * (C + 1));
    if (rep === 0) continue;
    t.native.push(a); t.nativeFloat.push(b); t.digitsAll.push(c); t.digitsFinal.push(d); t.q8All.push(e); t.gemmAll.push(f);
  }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  results.batches[B] = { samples: t, medians: m };
  const macs = (n) => (n * V * K) / 1e6;
  rows.push(
    [String(B), 'native kernel, exact int8-block head (mode dola today)', `${B * C}`, fmt(m.native, 2), fmt(m.native, 2), fmt(macs(B * C) / m.native, 1)],
    [String(B), 'native kernel, float32 head', `${B * C}`, fmt(m.nativeFloat, 2), fmt(m.nativeFloat, 2), fmt(macs(B * C) / m.nativeFloat, 1)],
    [String(B), "ORT, the q4 folder's head (two 4-bit digits, accuracy 0)", `${B * (C + 1)}`, fmt(m.digitsAll, 2), fmt(m.digitsAll - m.digitsFinal, 2), fmt(macs(2 * B * (C + 1)) / m.digitsAll, 1)],
    [String(B), "ORT, the q4 folder's head, final rows only (plain's head)", `${B}`, fmt(m.digitsFinal, 2), '-', fmt(macs(2 * B) / m.digitsFinal, 1)],
    [String(B), 'ORT, 8-bit MatMulNBits accuracy 4 (int8 activations; approximation)', `${B * (C + 1)}`, fmt(m.q8All, 2), fmt(m.q8All - m.digitsFinal, 2), fmt(macs(B * (C + 1)) / m.q8All, 1)],
    [String(B), 'ORT, float32 Gemm (the float32 folder\'s head)', `${B * (C + 1)}`, fmt(m.gemmAll, 2), '-', fmt(macs(B * (C + 1)) / m.gemmAll, 1)],
  );
  console.log(`batch ${B}:`, Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join(', '));
}
for (const s of Object.values(sessions)) await s.release();
model.dispose();
results.machine.loadAvgAfter = os.loadavg();
const md = [
  '# DoLa: candidates through the graph\'s head product, or through the native kernel (bench/dola-head-route.mjs)',
  '',
  `Model ${model.dir}: V = ${V}, d = ${K}, dolaLayers 'high' = ${C} candidates; ${threads} threads for ORT and the kernel; medians of ${REPS}, alternating, one process. "Extra over plain" = the head product over all rows minus the same product over the final rows alone (what a plain step already pays). GMAC/s counts the multiply-adds done (the digits head does two products).`,
  '',
  mdTable(['batch', 'head product', 'rows', 'ms per step', 'extra over plain, ms', 'GMAC/s'], rows),
  '',
  `Machine: ${results.machine.cpu}, ${results.machine.logicalCores} cores; load average before ${load0.map((x) => x.toFixed(1)).join('/')}, after ${results.machine.loadAvgAfter.map((x) => x.toFixed(1)).join('/')}.`,
  '',
];
const base = outArg ? path.resolve(outArg) : path.join(HERE, 'results', 'dola-head-route');
fs.writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
fs.writeFileSync(`${base}.md`, md.join('\n'));
console.log(`wrote ${base}.{json,md}`);
