// LAMBADA as the library scores it next to lm-evaluation-harness's own `lambada_openai` (issue 14): the same
// passages of ../shared/data/lambada/lambada_test.jsonl (bench/peers/lm_eval_lambada.py: the harness's task YAML
// with only the data source made local). The harness scores either through its Hugging Face backend on the float32
// weights that transformers dequantises from the GGUF (default), or (--server) through its `local-completions`
// backend against the library's own OpenAI-compatible server (`autocontrast serve --no-contrast`, started here on a
// free port over --model, plain decoding), tokenising with the model folder's tokenizer (--tokenizer DIR: a Hugging
// Face tokenizer folder holding it). The library scores plain through its scoring fast path on the model folder, or
// its per-passage results are read from an `autocontrast eval lambada` cache (--library-cache FILE: the plain
// log-likelihood and verdict of every passage). Compares accuracy, perplexity and each passage's greedy verdict
// and log-likelihood.
//
// Usage: node bench/eval-harness.mjs [--limit N] [--model NAME|DIR] [--python PATH] [--gguf FILE]
//                                    [--server --tokenizer DIR] [--library-cache FILE] [--out NAME]
//                                    [--harness-json FILE[,FILE...] (earlier harness runs: one of the same N, or
//                                     chunks made with lm_eval_lambada.py --range, joined; the library then scores
//                                     exactly the passages they hold)]
// Writes bench/results/NAME.{json,md} (default NAME lm-eval-lambada; --server: lm-eval-lambada-server).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
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
const SERVER = process.argv.includes('--server');
const TOKENIZER = arg('tokenizer', null);
const LIB_CACHE = arg('library-cache', null);
const OUT = arg('out', SERVER ? 'lm-eval-lambada-server' : 'lm-eval-lambada');
if (SERVER && !REUSE && !TOKENIZER) throw new Error('--server needs --tokenizer DIR (a Hugging Face tokenizer folder with the model\'s tokenizer.json)');
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
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ac-lm-eval-')), 'harness.json');
  log(`lm-evaluation-harness: ${N} passages (this takes a while) ...`);
  let r;
  if (SERVER) {
    const served = await startServer(MODEL);
    try {
      r = await runChild(PY, [path.join(HERE, 'peers', 'lm_eval_lambada.py'), served.name, file, '--limit', String(N), '--server', served.url, '--tokenizer', TOKENIZER, '--batch', '16', '--out', out], 4 * 3600e3);
    } finally {
      await served.stop();
    }
  } else {
    if (!fs.existsSync(GGUF)) throw new Error(`no ${GGUF} (--gguf FILE)`);
    r = await runChild(PY, [path.join(HERE, 'peers', 'lm_eval_lambada.py'), GGUF, file, '--limit', String(N), '--out', out], 4 * 3600e3);
  }
  if (!fs.existsSync(out)) throw new Error(`the harness did not finish: ${r.error ?? 'no output'}`);
  harness = JSON.parse(fs.readFileSync(out, 'utf8'));
}

/** `autocontrast serve --no-contrast` over `model` on a free port of 127.0.0.1; resolves once it listens. */
function startServer(model) {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'serve', '--model', model, '--port', '0', '--no-contrast'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.on('exit', (code) => reject(new Error(`autocontrast serve exited (${code}) before listening: ${text}`)));
    child.stdout.on('data', (b) => {
      text += b;
      const m = /serving (\S+) on (http:\/\/\S+\/v1)/.exec(text);
      if (!m) return;
      child.removeAllListeners('exit');
      log(`server: ${m[1]} on ${m[2]} (plain)`);
      resolve({ name: m[1], url: m[2], stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGTERM'); }) });
    });
  });
}
// The passages compared: those the harness scored (data indices).
const docIds = harness.docs.map((d) => d.doc);

let ours;
let plain;
if (LIB_CACHE) {
  // An `autocontrast eval lambada` cache: a settings line, then one line per passage { i, e: [log-likelihood, greedy] }
  // (the plain model's), among them every passage the harness scored.
  const [head, ...lines] = fs.readFileSync(LIB_CACHE, 'utf8').split('\n').filter((l) => l.trim());
  const settings = JSON.parse(head).settings;
  if (settings?.task !== 'lambada' || path.resolve(settings.data) !== path.resolve(file)) throw new Error(`--library-cache: ${LIB_CACHE} is not a LAMBADA cache of ${file}`);
  const byIndex = new Map(lines.map((l) => JSON.parse(l)).map((x) => [x.i, x]));
  const missing = docIds.filter((i) => !byIndex.has(i));
  if (missing.length) throw new Error(`--library-cache: ${missing.length} passages not in the cache (first ${missing[0]})`);
  const items = docIds.map((i) => byIndex.get(i));
  ours = { items, seconds: null };
  const n = items.length;
  plain = { accuracy: items.reduce((a, x) => a + x.e[1], 0) / n, perplexity: Math.exp(-items.reduce((a, x) => a + x.e[0], 0) / n) };
  res.library = { model: settings.model, weights: settings.weights, cache: LIB_CACHE, accuracy: plain.accuracy, perplexity: plain.perplexity, seconds: null };
} else {
  const model = await lib.load(MODEL);
  const items = docIds.map((i) => ({ i, units: [ev.lambadaRequest(model, allPassages[i])] }));
  log(`library: ${items.length} passages, plain ...`);
  ours = await ev.runScoring(model, items, { exits: [], amateurs: [], mode: 'acd', alpha: 0.1, batch: 16, label: 'library' }, scoring.scoreBatch);
  plain = ev.lambadaScores(ours.items, [], []).plain;
  res.library = { model: MODEL, weights: model.manifest.weights?.form ?? 'unknown', accuracy: plain.accuracy, perplexity: plain.perplexity, seconds: ours.seconds };
  await scoring.releaseScoring(model);
  model.dispose();
}

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
res.harness = { lm_eval: harness.lm_eval, backend: harness.backend ?? 'hf', torch: harness.torch, transformers: harness.transformers, task: harness.task, accuracy: harness.acc, perplexity: harness.perplexity, seconds: harness.seconds };
res.agreement = { greedySame: same, of: docIds.length, maxAbsLogLikelihoodDiff: maxLl, differ };
res.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', `${OUT}.json`), JSON.stringify(res, null, 2) + '\n');
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const md = [
  '# LAMBADA: the library vs lm-evaluation-harness `lambada_openai`',
  '',
  `${res.machine.cpu}, ${res.machine.logicalCores} cores; load average ${res.machine.loadAverageAtStart.join(' / ')} at start, ${res.machine.loadAverageAtEnd.join(' / ')} at end; ${res.machine.date}.`,
  `${docIds.every((d, k) => d === k) ? `The first ${docIds.length}` : `${docIds.length} (indices ${docIds[0]}..${docIds[docIds.length - 1]})`} of ${allPassages.length} passages of lambada_test.jsonl (OpenAI's detokenised test set, the file the harness's EleutherAI/lambada_openai holds).`,
  harness.chunks ? `The harness ran in ${harness.chunks.length} chunks (its own \`samples\` selection, ${harness.chunks.map((c) => `${c.range[0]}..${c.range[1] - 1}`).join(', ')}; ${(harness.seconds / 60).toFixed(1)} minutes in all, at nice 19 on the shared machine); its accuracy and perplexity below are aggregated over the joined passages the way the harness aggregates them.` : `The harness took ${(harness.seconds / 60).toFixed(1)} minutes.`,
  `Harness: lm-eval ${harness.lm_eval}, its own task YAML (${harness.task.source.split('site-packages/')[1] ?? harness.task.source}: doc_to_text \`${harness.task.doc_to_text}\`, doc_to_target \`${harness.task.doc_to_target}\`, ${harness.task.output_type}, metrics ${harness.task.metrics.join(', ')}) with the data source switched to the local file; ` +
    (harness.backend === 'local-completions'
      ? `model through its \`local-completions\` backend (token-id prompts, echo, max_tokens 1, logprobs 1, batches of ${harness.batch}) against \`autocontrast serve --no-contrast\` over ${MODEL} (plain decoding), tokenised by transformers ${harness.transformers} with the model folder's tokenizer.json.`
      : `model through its \`hf\` backend (PyTorch ${harness.torch}, transformers ${harness.transformers}) on the float32 weights dequantised from the GGUF.`),
  LIB_CACHE
    ? `Library: the plain log-likelihood and verdict of each passage from \`autocontrast eval lambada\`'s cache (${path.basename(LIB_CACHE)}; ${res.library.weights} weights of ${res.library.model}).`
    : `Library: \`runScoring\` plain on ${MODEL} (${res.library.weights} weights, converted from the same GGUF).`,
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
fs.writeFileSync(path.join(HERE, 'results', `${OUT}.md`), md);
log(`wrote bench/results/${OUT}.json and .md`);
