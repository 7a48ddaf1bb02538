// Benchmark (not part of npm test): per-step time of the native runtime at batch 1 on a GPT-2-small-shaped
// model (random weights) at 64/256/1024 tokens of context: wall time per step seen from JavaScript, time inside
// ORT's Run, and the share outside Run; against the same decode loop on onnxruntime-node's JS API (KV cache
// through JavaScript). Usage: node test/runtime/bench-runtime.mjs [modelDir] [--layers N] [--steps N]
import fs from 'node:fs';
import path from 'node:path';

import * as h from './helpers.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const layers = opt('--layers', 12);
const steps = opt('--steps', 8);
const only = opt('--ctx', 0);
const spin = !args.includes('--no-spin');
let dir = args[0] && !args[0].startsWith('--') ? args[0] : null;
if (h.skipReason()) process.exit(0);
const cfg = { ...h.graph.GPT2_SMALL_CONFIG, numLayers: layers };
if (!dir || !fs.existsSync(path.join(dir, 'autocontrast.json'))) {
  dir = dir ?? path.join(h.tempDir('ac-rt-bench-'), 'model');
  const weights = h.graph.tinyDecoderWeights(cfg, 5, { std: 0.02, vectorStd: 0.02 });
  await h.manifest.writeModelFolder(dir, { config: cfg, weights, exits: [], logitPositions: 'last', overwrite: true });
}
const m = JSON.parse(fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8'));
const model = await h.rt.loadModel(dir, { allowSpinning: spin });
const session = await h.ort.InferenceSession.create(path.join(dir, m.graph.file), {
  graphOptimizationLevel: 'all', intraOpNumThreads: model.threads, interOpNumThreads: 1,
});
const fetches = ['logits'];
for (let i = 0; i < m.numLayers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
const i64 = (a, shape) => new h.ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), shape);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

console.log(`GPT-2-small shape, ${m.numLayers} layers, batch 1, ${steps} steps per context, ORT ${h.rt.ortVersion().version}, ${model.threads} intra-op threads`);
console.log('context | native wall ms | in Run ms | outside Run (share) | of which native, not Run | JS-API loop ms | JS/native');
for (const ctx of only ? [only] : [64, 256, 1024]) {
  const prompt = h.tokens(ctx - steps, m.vocabSize, ctx);
  // native
  const seq = model.createSequence({ batch: 1, maxLength: ctx });
  let out = await seq.prefill([prompt]);
  const wall = [], run = [], native = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    out = await seq.step([h.argmax(out.logits)]);
    wall.push(performance.now() - t0);
    run.push(out.runMs);
    native.push(out.stepMs);
  }
  seq.dispose();
  // JS API loop: present -> past through JavaScript
  const ids = [...prompt];
  const feeds = { input_ids: i64(ids, [1, ids.length]), attention_mask: i64(ids.map(() => 1), [1, ids.length]), position_ids: i64(ids.map((_, i) => i), [1, ids.length]) };
  for (let i = 0; i < m.numLayers; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new h.ort.Tensor('float32', new Float32Array(0), [1, m.numKvHeads, 0, m.headDim]);
  let res = await session.run(feeds, fetches);
  const jsWall = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const next = h.argmax(res.logits.data);
    ids.push(next);
    const f = { input_ids: i64([next], [1, 1]), attention_mask: i64(ids.map(() => 1), [1, ids.length]), position_ids: i64([ids.length - 1], [1, 1]) };
    for (let i = 0; i < m.numLayers; i++) for (const k of ['key', 'value']) f[`past_key_values.${i}.${k}`] = res[`present.${i}.${k}`];
    res = await session.run(f, fetches);
    jsWall.push(performance.now() - t0);
  }
  const w = median(wall), r = median(run), j = median(jsWall);
  console.log(`${ctx} | ${w.toFixed(2)} | ${r.toFixed(2)} | ${(w - r).toFixed(3)} (${((100 * (w - r)) / w).toFixed(1)}%) | ${(median(native) - r).toFixed(3)} | ${j.toFixed(2)} | ${(j / w).toFixed(2)}x`);
}
model.dispose();
