// DoLa / amateurLayer 'auto' benchmark (not part of npm test), one process, ratios from the same run:
// SmolLM2-135M, greedy through the public `generate`, plain vs `mode: 'dola'` (dolaLayers 'high': 8 candidate
// layers) vs ACD with `amateurLayer: 'auto'` (same candidates) vs fixed-layer ACD (exit 15), at batch 1 and 8;
// 32-token prompts, 64 new tokens, alternating runs, medians of per-token decode time. Targets (issue 17):
// dola <= 1.3x plain at batch 1, <= 1.15x at batch 8. Also the kernel alone (dolaContrast on the model's head
// shapes) per step. Load averages before and after are recorded: other processes share the machine.
// Usage: node bench/dola.mjs [MODEL_DIR_OR_NAME] [--quick]   (default model: smollm2-135m, pulled on first use)
// Writes bench/results/dola.{json,md} (dola-quick.* with --quick).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import { fmt, machine, mdTable, median, randomTokens } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const modelArg = args.find((a) => !a.startsWith('--')) ?? 'smollm2-135m';
const P = { promptTokens: 32, maxNew: quick ? 16 : 64, reps: quick ? 1 : 3, batches: [1, 8] };
const status = lib.runtime.runtimeStatus();
if (!status.available) {
  console.log(`dola benchmark skipped: runtime not built (${status.reason})`);
  process.exit(0);
}
const load0 = os.loadavg();
const model = await lib.load(modelArg);
const N = model.numLayers;
const results = { quick, params: P, model: model.dir, machine: machine({ loadAvgBefore: load0 }), batches: {} };
const variants = [
  { name: 'plain', options: { contrast: false, repetitionPenalty: 1.2 } },
  { name: 'dola high', options: { mode: 'dola', dolaLayers: 'high' } },
  { name: "acd amateurLayer 'auto' (high)", options: { mode: 'acd', amateurLayer: 'auto', dolaLayers: 'high', repetitionPenalty: 1.2 } },
  { name: `acd exit ${Math.floor(N / 2)}`, options: { mode: 'acd', amateurLayer: Math.floor(N / 2), repetitionPenalty: 1.2 } },
];
const md = [`# DoLa and amateurLayer 'auto' (bench/dola.mjs)`, '', `Model: ${model.dir} (${N} layers). ${P.promptTokens}-token prompts, ${P.maxNew} new tokens, greedy, median of ${P.reps} alternating runs; per-token time = decode time / generated tokens (first token excluded, as generate's timing).`, ''];
for (const B of P.batches) {
  const prompts = Array.from({ length: B }, (_, i) => randomTokens(P.promptTokens, Math.min(model.vocabSize, 30000), 100 + i));
  const res = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let rep = 0; rep <= P.reps; rep++) {
    for (const v of variants) {
      const out = await lib.generate(model, prompts, { strategy: 'greedy', maxNewTokens: P.maxNew, minNewTokens: P.maxNew, ...v.options });
      if (rep === 0) continue; // warm-up
      res[v.name].push(1000 / out[0].timing.tokensPerSecond);
    }
  }
  const plain = median(res.plain);
  const rows = variants.map((v) => {
    const ms = median(res[v.name]);
    return [v.name, fmt(ms, 2), fmt(ms / plain, 3)];
  });
  results.batches[B] = Object.fromEntries(variants.map((v) => [v.name, { msPerToken: res[v.name], median: median(res[v.name]), ratio: median(res[v.name]) / plain }]));
  const target = B === 1 ? 1.3 : 1.15;
  const ratio = median(res['dola high']) / plain;
  results.batches[B].target = { ratio, limit: target, met: ratio <= target };
  md.push(`## Batch ${B}`, '', mdTable(['variant', 'ms per token', 'x plain'], rows), '', `dola high / plain = **${fmt(ratio, 3)}** (target <= ${target}: ${ratio <= target ? 'met' : 'not met'})`, '');
  console.log(`batch ${B}: ${rows.map((r) => `${r[0]} ${r[1]} ms (${r[2]}x)`).join(', ')}`);
}
model.dispose();
results.machine.loadAvgAfter = os.loadavg();
md.push(`Machine: ${results.machine.cpu}; load average before ${load0.map((x) => x.toFixed(1)).join('/')}, after ${results.machine.loadAvgAfter.map((x) => x.toFixed(1)).join('/')} (1/5/15 min; other processes shared the cores).`, '');
const base = path.join(HERE, 'results', quick ? 'dola-quick' : 'dola');
fs.writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
fs.writeFileSync(`${base}.md`, md.join('\n'));
console.log(`wrote ${path.relative(process.cwd(), base)}.{json,md}`);
