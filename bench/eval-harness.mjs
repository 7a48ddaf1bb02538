// LAMBADA as the library scores it next to lm-evaluation-harness's own `lambada_openai` (issue 14): the same first
// N passages of ../shared/data/lambada/lambada_test.jsonl, the harness through its Hugging Face backend on the
// float32 weights that transformers dequantises from the GGUF (bench/peers/lm_eval_lambada.py: the harness's task
// YAML with only the data source made local), the library plain through its scoring fast path on a model folder
// converted from the same GGUF. Compares accuracy, perplexity and each passage's greedy verdict and log-likelihood.
//
// Usage: node bench/eval-harness.mjs [--limit N] [--model NAME|DIR] [--python PATH] [--gguf FILE]
//                                    [--harness-json FILE[,FILE...] (earlier harness runs: one of the same N, or
//                                     chunks made with lm_eval_lambada.py --range, joined; the library then scores
//                                     exactly the passages they hold)]
// Writes bench/results/lm-eval-lambada.{json,md}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import ev from '../dist/eval/index.js';
import scoring from '../dist/generate/index.js';
import { runChild } from './lib/child.mjs';
import { machine } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('limit', 256));
const PY = arg('python', path.join(ROOT, 'parity', '.venv', 'bin', 'python'));
const GGUF = arg('gguf', path.join(ROOT, 'parity', '.work', 'gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf'));
const MODEL = arg('model', 'smollm2-135m');
const REUSE = arg('harness-json', null);
const log = (s) => process.stderr.write(`${s}\n`);

const file = path.join(ev.defaultDataDir(), ev.DATA_FILES.lambada);
if (!fs.existsSync(file)) {
  log(`skipped: ${file} not found (set AUTOCONTRAST_DATA to the shared data folder)`);
  process.exit(0);
}
if (!Number.isInteger(N) || N < 1) throw new RangeError(`--limit must be a positive integer, got ${arg('limit')}`);
const res = { machine: machine(), passages: N };
const allPassages = ev.readLambada(file);

let harness;
if (REUSE) {
  const parts = REUSE.split(',').map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  harness = parts[0];
  if (parts.length > 1) {
    // Chunks of one harness version and task: their passages joined; accuracy and perplexity recomputed from the
    // per-passage values the way the harness aggregates them (mean of the verdicts, exp(-mean log-likelihood)).
    for (const p of parts) {
      if (p.lm_eval !== harness.lm_eval || p.transformers !== harness.transformers || p.task.source !== harness.task.source) throw new Error('--harness-json: the chunks come from different harness setups');
    }
    const docs = parts.flatMap((p) => p.docs).sort((a, b) => a.doc - b.doc);
    for (let k = 1; k < docs.length; k++) if (docs[k].doc === docs[k - 1].doc) throw new Error(`--harness-json: passage ${docs[k].doc} is in two chunks`);
    harness = { ...harness, docs, seconds: parts.reduce((a, p) => a + p.seconds, 0), chunks: parts.map((p) => ({ range: p.range, passages: p.docs.length, seconds: p.seconds, acc: p.acc, perplexity: p.perplexity })) };
    harness.acc = docs.reduce((a, d) => a + d.greedy, 0) / docs.length;
    harness.perplexity = Math.exp(-docs.reduce((a, d) => a + d.ll, 0) / docs.length);
  }
  res.harnessReused = REUSE;
  res.passages = harness.docs.length;
} else {
  if (!fs.existsSync(PY)) throw new Error(`no python at ${PY} (--python PATH with lm-eval, torch, transformers, gguf installed)`);
  if (!fs.existsSync(GGUF)) throw new Error(`no ${GGUF} (--gguf FILE)`);
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ac-lm-eval-')), 'harness.json');
  log(`lm-evaluation-harness: ${N} passages (this takes a while) ...`);
  const r = await runChild(PY, [path.join(HERE, 'peers', 'lm_eval_lambada.py'), GGUF, file, '--limit', String(N), '--out', out], 4 * 3600e3);
  if (!fs.existsSync(out)) throw new Error(`the harness did not finish: ${r.error ?? 'no output'}`);
  harness = JSON.parse(fs.readFileSync(out, 'utf8'));
}
// The passages compared: those the harness scored (data indices).
const docIds = harness.docs.map((d) => d.doc);

const model = await lib.load(MODEL);
const items = docIds.map((i) => ({ i, units: [ev.lambadaRequest(model, allPassages[i])] }));
log(`library: ${items.length} passages, plain ...`);
const ours = await ev.runScoring(model, items, { exits: [], amateurs: [], mode: 'acd', alpha: 0.1, batch: 16, label: 'library' }, scoring.scoreBatch);
const plain = ev.lambadaScores(ours.items, [], []).plain;
res.library = { model: MODEL, weights: model.manifest.weights?.form ?? 'unknown', accuracy: plain.accuracy, perplexity: plain.perplexity, seconds: ours.seconds };
await scoring.releaseScoring(model);
model.dispose();

let same = 0;
let maxLl = 0;
const differ = [];
for (let k = 0; k < docIds.length; k++) {
  const a = ours.items[k];
  const h = harness.docs[k];
  if (a.i !== h.doc) throw new Error(`library passage ${a.i} against harness passage ${h.doc} at position ${k}`);
  if ((a.e[1] === 1) === (h.greedy === 1)) same++;
  else differ.push({ passage: h.doc, library: a.e, harness: [h.ll, h.greedy] });
  maxLl = Math.max(maxLl, Math.abs(a.e[0] - h.ll));
}
res.harness = { lm_eval: harness.lm_eval, torch: harness.torch, transformers: harness.transformers, task: harness.task, accuracy: harness.acc, perplexity: harness.perplexity, seconds: harness.seconds };
res.agreement = { greedySame: same, of: docIds.length, maxAbsLogLikelihoodDiff: maxLl, differ };
res.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', 'lm-eval-lambada.json'), JSON.stringify(res, null, 2) + '\n');
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const md = [
  '# LAMBADA: the library vs lm-evaluation-harness `lambada_openai`',
  '',
  `${res.machine.cpu}, ${res.machine.logicalCores} cores; load average ${res.machine.loadAverageAtStart.join(' / ')} at start, ${res.machine.loadAverageAtEnd.join(' / ')} at end; ${res.machine.date}.`,
  `${docIds.every((d, k) => d === k) ? `The first ${docIds.length}` : `${docIds.length} (indices ${docIds[0]}..${docIds[docIds.length - 1]})`} of ${allPassages.length} passages of lambada_test.jsonl (OpenAI's detokenised test set, the file the harness's EleutherAI/lambada_openai holds).`,
  harness.chunks ? `The harness ran in ${harness.chunks.length} chunks (its own \`samples\` selection, ${harness.chunks.map((c) => `${c.range[0]}..${c.range[1] - 1}`).join(', ')}; ${(harness.seconds / 60).toFixed(1)} minutes in all, at nice 19 on the shared machine); its accuracy and perplexity below are aggregated over the joined passages the way the harness aggregates them.` : `The harness took ${(harness.seconds / 60).toFixed(1)} minutes.`,
  `Harness: lm-eval ${harness.lm_eval}, its own task YAML (${harness.task.source.split('site-packages/')[1] ?? harness.task.source}: doc_to_text \`${harness.task.doc_to_text}\`, doc_to_target \`${harness.task.doc_to_target}\`, ${harness.task.output_type}, metrics ${harness.task.metrics.join(', ')}) with the data source switched to the local file; model through its \`hf\` backend (PyTorch ${harness.torch}, transformers ${harness.transformers}) on the float32 weights dequantised from the GGUF.`,
  `Library: \`runScoring\` plain on ${MODEL} (${res.library.weights} weights, converted from the same GGUF).`,
  '',
  '| | accuracy | perplexity |',
  '|---|---:|---:|',
  `| lm-evaluation-harness lambada_openai | ${f(harness.acc, 4)} | ${f(harness.perplexity, 3)} |`,
  `| library | ${f(plain.accuracy, 4)} | ${f(plain.perplexity, 3)} |`,
  '',
  `Greedy verdict equal on ${same} of ${docIds.length} passages; largest per-passage log-likelihood difference ${maxLl.toExponential(2)}.`,
  differ.length ? `Passages that differ: ${differ.map((x) => x.passage).join(', ')}.` : '',
  '',
].join('\n');
fs.writeFileSync(path.join(HERE, 'results', 'lm-eval-lambada.md'), md);
log('wrote bench/results/lm-eval-lambada.json and .md');
