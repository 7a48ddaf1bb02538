// Where a decode step's time goes, by operator type: ONNX Runtime's own profiler (a session option) over N single-
// token steps of a model folder's graph (or any decoder graph with HF-style past_key_values inputs, e.g. one
// onnxruntime-genai's builder wrote), through onnxruntime-node with the runtime's session settings. Not part of
// npm test; profiling adds a few microseconds per node, so graphs with many small nodes look slower than they run.
// Usage: node bench/step-profile.mjs MODEL_DIR_OR_ONNX [--steps=40] [--past=32] [--threads=2] [--spin=0]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const arg = (k, d) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
const target = args.find((a) => !a.startsWith('--'));
if (!target) {
  console.error('usage: node bench/step-profile.mjs MODEL_DIR_OR_ONNX [--steps=40] [--past=32] [--threads=2] [--spin=0]');
  process.exit(2);
}
const steps = Number(arg('steps', 40));
const P = Number(arg('past', 32));
const dir = fs.statSync(target).isDirectory() ? target : path.dirname(target);
const onnxFile = fs.statSync(target).isDirectory()
  ? path.join(dir, fs.existsSync(path.join(dir, 'model.onnx')) ? 'model.onnx' : fs.readdirSync(dir).find((f) => f.endsWith('.onnx')))
  : target;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-profile-'));
const sess = await ort.InferenceSession.create(onnxFile, {
  intraOpNumThreads: Number(arg('threads', 2)), interOpNumThreads: 1, graphOptimizationLevel: 'all',
  enableProfiling: true, profileFilePrefix: path.join(work, 'p'),
  extra: { session: { intra_op: { allow_spinning: arg('spin', '0') } } },
});
// onnxruntime-genai's builder may leave the past's heads and width symbolic: its genai_config.json has them
const genaiCfg = path.join(dir, 'genai_config.json');
const genaiDecoder = fs.existsSync(genaiCfg) ? JSON.parse(fs.readFileSync(genaiCfg, 'utf8')).model?.decoder : undefined;
const feeds = {};
for (const name of sess.inputNames) {
  const meta = sess.inputMetadata?.find?.((m) => m.name === name);
  if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.of(42n), [1, 1]);
  else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', new BigInt64Array(P + 1).fill(1n), [1, P + 1]);
  else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', BigInt64Array.of(BigInt(P)), [1, 1]);
  else if (name === 'num_logits_to_keep') feeds[name] = new ort.Tensor('int64', BigInt64Array.of(1n), []);
  else if (name.startsWith('past')) {
    let [, heads, , width] = meta?.shape ?? [];
    if (typeof heads !== 'number') heads = genaiDecoder?.num_key_value_heads;
    if (typeof width !== 'number') width = genaiDecoder?.head_size;
    if (typeof heads !== 'number' || typeof width !== 'number') throw new Error(`${name}: cannot read its head count and width from the graph`);
    feeds[name] = new ort.Tensor('float32', new Float32Array(heads * P * width).fill(0.01), [1, heads, P, width]);
  } else throw new Error(`unexpected graph input ${name}`);
}
const fetches = sess.outputNames.filter((n) => n === 'logits');
for (let i = 0; i < 3; i++) await sess.run(feeds, fetches);
const t0 = performance.now();
for (let i = 0; i < steps; i++) await sess.run(feeds, fetches);
const wall = (performance.now() - t0) / steps;
const file = sess.endProfiling();
await sess.release();
const events = JSON.parse(fs.readFileSync(fs.readdirSync(work).map((f) => path.join(work, f)).find((f) => f.endsWith('.json')) ?? file, 'utf8'));
fs.rmSync(work, { recursive: true, force: true });
let runs = 0;
const byOp = new Map();
for (const e of events) {
  if (e.cat === 'Session' && e.name === 'model_run') runs++;
  if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
    const t = byOp.get(e.args.op_name) ?? { us: 0, n: 0 };
    t.us += e.dur;
    t.n++;
    byOp.set(e.args.op_name, t);
  }
}
const total = [...byOp.values()].reduce((s, t) => s + t.us, 0);
console.log(`${onnxFile}: ${(total / runs / 1000).toFixed(2)} ms in kernels per step (profiled), ${wall.toFixed(2)} ms wall per step with profiling; ${runs} runs, past ${P}`);
console.log('| operator | ms per step | nodes per step | share |\n| --- | --- | --- | --- |');
for (const [op, t] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
  console.log(`| ${op} | ${(t.us / runs / 1000).toFixed(3)} | ${Math.round(t.n / runs)} | ${((100 * t.us) / total).toFixed(1)}% |`);
}
