// Scoring benchmark (issue 14): LAMBADA scoring on SmolLM2-135M, plain + every exit alone + ACD with every amateur
// layer from one forward run per batch, through the library's scoring fast path, next to a PyTorch + transformers
// peer doing the same work (bench/peers/torch_scoring.py: the same passages, the same threads, float32 weights
// dequantised from the same GGUF) in the same run. Reports tokens/s of both and their ratio, the per-passage
// time, and how far the two agree (plain accuracy on the same passages: the library on its pulled weight form,
// the peer on float32 weights, which is what lm-evaluation-harness's HF backend would score).
//
// Usage: node bench/eval-scoring.mjs [--passages N] [--batch B] [--python PATH] [--gguf FILE] [--model NAME|DIR]
// Writes bench/results/eval-scoring.{json,md}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import ev from '../dist/eval/index.js';
// The batched scorer is a generation-layer internal (not in the public entry): its subpath module.
import scoring from '../dist/generate/index.js';
import { runChild, tmpJob } from './lib/child.mjs';
import { machine } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('passages', 64));
const B = Number(arg('batch', 16));
const PY = arg('python', path.join(ROOT, 'parity', '.venv', 'bin', 'python'));
const GGUF = arg('gguf', path.join(ROOT, 'parity', '.work', 'gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf'));
const MODEL = arg('model', 'smollm2-135m');
const log = (s) => process.stderr.write(`${s}\n`);

const data = ev.defaultDataDir();
const file = path.join(data, ev.DATA_FILES.lambada);
if (!fs.existsSync(file)) {
  log(`skipped: ${file} not found (set AUTOCONTRAST_DATA to the shared data folder)`);
  process.exit(0);
}
const passages = ev.readLambada(file).slice(0, N);
const model = await lib.load(MODEL);
const threads = model.runtime.threads;
const layers = model.exits.map((e) => e.layer).sort((a, b) => a - b);
const exits = layers.filter((L) => L > 0);
const amateurs = layers.filter((L) => L > 0 && L < model.numLayers);
const items = passages.map((p) => ev.lambadaRequest(model, p));
const res = { machine: machine({ threads }), model: { name: MODEL, dir: model.dir, weights: model.manifest.weights?.form ?? 'unknown', graph: model.manifest.graph.form ?? 'reference' }, passages: N, batch: B, exits: exits.length, amateurs: amateurs.length };

// warm-up (session creation, head matrix load) outside the timed part
await scoring.scoreBatch(model, items.slice(0, 2), { exits, amateurs });
log(`library: ${N} passages, batch ${B}, ${exits.length} exits + ${amateurs.length} amateurs, ${threads} threads ...`);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const ours = await ev.runScoring(model, items.map((q, i) => ({ i, units: [q] })), { exits, amateurs, mode: 'acd', alpha: 0.1, batch: B, progress: true, label: 'library' }, scoring.scoreBatch);
const oursS = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const oursScores = ev.lambadaScores(ours.items, exits, amateurs);
res.library = { seconds: oursS, cpuSeconds: (cpu.user + cpu.system) / 1e6, tokens: ours.tokens, tokensPerSecond: ours.tokens / oursS, msPerPassage: (1000 * oursS) / N, plain: oursScores.plain };
log(`library: ${res.library.tokensPerSecond.toFixed(1)} tokens/s, accuracy ${oursScores.plain.accuracy.toFixed(3)}`);
await scoring.releaseScoring(model);
model.dispose();

if (!fs.existsSync(PY)) res.peerSkipped = `no python at ${PY} (npm run parity creates parity/.venv; or --python PATH)`;
else if (!fs.existsSync(GGUF)) res.peerSkipped = `no ${GGUF} (npm run parity -- --only=c extracts it; or --gguf FILE)`;
else {
  const job = tmpJob({ items, threads, batch: B, exits, amateurs, alpha: 0.1 });
  log(`peer: PyTorch + transformers, ${threads} threads ...`);
  const peer = await runChild(PY, [path.join(HERE, 'peers', 'torch_scoring.py'), GGUF, job], 60 * 60e3);
  if (!peer.ok) res.peerSkipped = `peer failed: ${peer.error}`;
  else {
    const peerItems = peer.items.map((x, i) => ({ i, n: 0, t: 0, e: x.e, x: x.x, c: x.c }));
    const ps = ev.lambadaScores(peerItems, exits, amateurs);
    let agree = 0;
    for (let i = 0; i < N; i++) if (peer.items[i].e[1] === ours.items[i].e[1]) agree++;
    res.peer = { torch: peer.torch, transformers: peer.transformers, threads: peer.threads, seconds: peer.seconds, tokens: peer.tokens, tokensPerSecond: peer.tokens / peer.seconds, plain: ps.plain, weights: 'float32 (dequantised from the Q4_1 GGUF)' };
    res.speedup = res.library.tokensPerSecond / res.peer.tokensPerSecond;
    res.agreement = { plainGreedySamePassages: agree, of: N, accuracyDelta: oursScores.plain.accuracy - ps.plain.accuracy };
    res.bestLayer = {
      library: [...oursScores.contrast].sort((a, b) => b.accuracy - a.accuracy)[0],
      peer: [...ps.contrast].sort((a, b) => b.accuracy - a.accuracy)[0],
    };
    log(`peer: ${res.peer.tokensPerSecond.toFixed(1)} tokens/s, accuracy ${ps.plain.accuracy.toFixed(3)}; library / peer = ${res.speedup.toFixed(2)}x`);
  }
}
res.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', 'eval-scoring.json'), JSON.stringify(res, null, 2) + '\n');
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const md = [
  '# Scoring benchmark: LAMBADA, plain + every exit + every amateur from one forward run per batch',
  '',
  `${res.machine.cpu}, ${res.machine.logicalCores} logical cores, ${threads} threads for both; load average ${res.machine.loadAverageAtStart.join(' / ')} at start, ${res.machine.loadAverageAtEnd.join(' / ')} at end (other work shared the machine); ${res.machine.date}.`,
  `Model ${MODEL} (${res.model.weights} weights, ${res.model.graph} graph); ${N} passages of lambada_test.jsonl, batch ${B}; ${exits.length} exits alone and ACD with ${amateurs.length} amateur layers (alpha 0.1) per passage.`,
  '',
  '| | tokens/s | ms per passage | plain accuracy | plain perplexity |',
  '|---|---:|---:|---:|---:|',
  `| library (scoring fast path) | ${f(res.library.tokensPerSecond)} | ${f(res.library.msPerPassage, 0)} | ${f(res.library.plain.accuracy, 3)} | ${f(res.library.plain.perplexity, 2)} |`,
  res.peer ? `| PyTorch ${res.peer.torch} + transformers ${res.peer.transformers} (float32) | ${f(res.peer.tokensPerSecond)} | ${f((1000 * res.peer.seconds) / N, 0)} | ${f(res.peer.plain.accuracy, 3)} | ${f(res.peer.plain.perplexity, 2)} |` : `| peer | skipped: ${res.peerSkipped} | | | |`,
  '',
  res.peer ? `Library / peer: **${f(res.speedup, 2)}x** tokens/s. The plain greedy verdict agrees on ${res.agreement.plainGreedySamePassages} of ${N} passages (the library runs its ${res.model.weights} model folder, the peer float32 weights dequantised from the same GGUF).` : '',
  '',
].join('\n');
fs.writeFileSync(path.join(HERE, 'results', 'eval-scoring.md'), md);
log('wrote bench/results/eval-scoring.json and .md');
