// ACD with a fitted amateur vs the logit-lens amateur, measured directly (a small sample, until the eval command
// covers it): LAMBADA last-word accuracy of greedy decoding (first K passages of ../shared/data's
// lambada_test.jsonl) and greedy diversity (distinct-2, distinct-3, repeated 4-grams) on the self-distillation
// prompts, for plain decoding, ACD with the logit lens at layer L and ACD with the fitted exit at layer L.
//
// usage: node bench/fit-exits-acd.mjs FITTED_FOLDER [LAYER] [K]   (the original is smollm2-135m)
// Appends its results to bench/results/fit-exits-acd.{json,md}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import gen from '../dist/generate/index.js';
import data from '../dist/train/data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const [fittedDir, layerArg, kArg] = process.argv.slice(2);
const L = Number(layerArg ?? 15);
const K = Number(kArg ?? 24);
const shared = process.env.AUTOCONTRAST_SHARED_DATA ?? path.join(here, '..', '..', 'shared', 'data');
const lambadaFile = path.join(shared, 'lambada', 'lambada_test.jsonl');
if (!fittedDir || !fs.existsSync(lambadaFile)) {
  console.log(`skipped: needs a fitted folder argument and ${lambadaFile}`);
  process.exit(0);
}
const plainModel = await gen.load('smollm2-135m');
const fittedModel = await gen.load(fittedDir);
const fit = fittedModel.manifest.exits.find((e) => e.layer === L)?.fit;
const configs = [
  ['plain', plainModel, { contrast: false }],
  [`acd, logit lens L${L}`, plainModel, { amateurLayer: L }],
  [`acd, fitted ${fit?.method ?? '?'} L${L}`, fittedModel, { amateurLayer: L }],
];
const passages = fs.readFileSync(lambadaFile, 'utf8').split('\n').filter(Boolean).slice(0, K).map((l) => JSON.parse(l).text);
const results = [];
const t0 = Date.now();
for (const [name, model, opts] of configs) {
  let correct = 0;
  for (const p of passages) {
    const cut = p.lastIndexOf(' ');
    const r = await gen.generate(model, p.slice(0, cut), { ...opts, maxNewTokens: 6 });
    const word = r.text.trim().split(/\s+/)[0]?.replace(/[.,;:!?'"”’)]+$/, '') ?? '';
    if (word === p.slice(cut + 1)) correct++;
  }
  const ngrams = (toks, n) => toks.slice(0, toks.length - n + 1).map((_, i) => toks.slice(i, i + n).join(','));
  let d2 = 0;
  let d3 = 0;
  let rep4 = 0;
  const prompts = data.SELF_DISTILLATION_PROMPTS.slice(0, 8);
  for (const p of prompts) {
    const r = await gen.generate(model, p, { ...opts, maxNewTokens: 64 });
    const t = r.tokens;
    d2 += new Set(ngrams(t, 2)).size / Math.max(1, t.length - 1);
    d3 += new Set(ngrams(t, 3)).size / Math.max(1, t.length - 2);
    const g4 = ngrams(t, 4);
    rep4 += 1 - new Set(g4).size / Math.max(1, g4.length);
  }
  const row = { config: name, lambadaAccuracy: correct / K, distinct2: d2 / prompts.length, distinct3: d3 / prompts.length, repeated4: rep4 / prompts.length };
  results.push(row);
  console.log(JSON.stringify(row));
}
const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, load: os.loadavg().map((x) => x.toFixed(1)).join(' '), date: new Date().toISOString() };
fs.writeFileSync(path.join(here, 'results', 'fit-exits-acd.json'), JSON.stringify({ machine, layer: L, passages: K, fit, results, seconds: (Date.now() - t0) / 1000 }, null, 2) + '\n');
const md = [
  `# ACD with a fitted amateur vs the logit lens (SmolLM2-135M, layer ${L})`,
  '',
  `Machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.load} (${machine.date.slice(0, 10)}). A small sample: the first ${K} LAMBADA passages (greedy, last word exact), 8 prompts x 64 greedy tokens for diversity.`,
  fit ? `Fitted exit: ${fit.method}, ${fit.tokens} training tokens (${fit.dataSource}), ${fit.steps} steps, validation CE ${fit.validationLoss.toFixed(3)} vs logit lens ${fit.logitLensValidationLoss.toFixed(3)}.` : '',
  '',
  '| decoding | LAMBADA accuracy | distinct-2 | distinct-3 | repeated 4-grams |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.config} | ${(100 * r.lambadaAccuracy).toFixed(1)}% | ${r.distinct2.toFixed(3)} | ${r.distinct3.toFixed(3)} | ${r.repeated4.toFixed(3)} |`),
  '',
];
fs.writeFileSync(path.join(here, 'results', 'fit-exits-acd.md'), md.join('\n'));
