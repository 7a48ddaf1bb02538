// DoLa / amateurLayer 'auto' benchmark (not part of npm test), one process, ratios from the same run:
// SmolLM2-135M, greedy through the public `generate`, plain vs `mode: 'dola'` (dolaLayers 'high': 8 candidate
// layers) vs ACD with `amateurLayer: 'auto'` (same candidates) vs fixed-layer ACD (exit 15), at batch 1 and 8;
// 32-token prompts, 64 new tokens, alternating runs, medians of per-token decode time. Targets (issue 17):
// dola <= 1.3x plain at batch 1, <= 1.15x at batch 8. Then the kernel alone per step on the model's own head
// (rows x 8 candidates, hidden states drawn at random): the candidate projection alone (candidateLogits), the
// softmax + divergence + contrast alone (dolaContrast given the candidates' logits) and the whole dolaContrast,
// with the projection's multiply-adds per second. Load averages before and after are recorded: other processes
// share the machine. A before/after comparison runs this script twice in one lock hold, the first time with
// AUTOCONTRAST_NATIVE_PATH naming the earlier addon and --out elsewhere. The dolaHead 'int8' variants (the opt-in
// int8 candidate projection) run beside the exact ones, alternated; the kernel section times its projection too.
// 'dola high' reads the head once per step (the runtime without the graph's head product, the kernel projecting the
// final layer with the candidates); 'dola high, two heads' is the reference path (AUTOCONTRAST_DOLA_ONE_HEAD=0: the
// graph's own head for the final layer, the kernel for the candidates), alternated in the same run.
// Usage: node bench/dola.mjs [MODEL_DIR_OR_NAME] [--quick] [--batch=N] [--out=PATH_WITHOUT_EXTENSION]
//   (default model: smollm2-135m, pulled on first use)
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
const outArg = args.find((a) => a.startsWith('--out='))?.slice(6);
const batchArg = args.find((a) => a.startsWith('--batch='))?.slice(8);
const P = { promptTokens: 32, maxNew: quick ? 16 : 64, reps: quick ? 1 : 3, batches: batchArg ? [Number(batchArg)] : [1, 8] };
const status = lib.runtime.runtimeStatus();
if (!status.available) {
  console.log(`dola benchmark skipped: runtime not built (${status.reason})`);
  process.exit(0);
}
const load0 = os.loadavg();
const model = await lib.load(modelArg);
const N = model.numLayers;
// The instruction sets that matter here: the kernel's backend, and what the CPU offers beyond it.
let cpuFlags = [];
try {
  cpuFlags = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/).filter((f) => /^(avx2|fma|avx512f|avx512_vnni|avx512_bf16|avx512_fp16|amx_\w+)$/.test(f));
} catch {
  cpuFlags = [];
}
const isa = `kernel backend ${lib.availableBackends()[0]}${cpuFlags.length ? `; CPU flags ${cpuFlags.join(' ')}` : ''}`;
const results = { quick, params: P, model: model.dir, machine: machine({ loadAvgBefore: load0, isa }), batches: {} };
const variants = [
  { name: 'plain', options: { contrast: false, repetitionPenalty: 1.2 } },
  { name: 'dola high', options: { mode: 'dola', dolaLayers: 'high' } },
  { name: 'dola high, two heads (reference)', options: { mode: 'dola', dolaLayers: 'high' }, env: { AUTOCONTRAST_DOLA_ONE_HEAD: '0' } },
  { name: "dola high, dolaHead 'int8'", options: { mode: 'dola', dolaLayers: 'high', dolaHead: 'int8' } },
  { name: "acd amateurLayer 'auto' (high)", options: { mode: 'acd', amateurLayer: 'auto', dolaLayers: 'high', repetitionPenalty: 1.2 } },
  { name: "acd amateurLayer 'auto' (high), dolaHead 'int8'", options: { mode: 'acd', amateurLayer: 'auto', dolaLayers: 'high', dolaHead: 'int8', repetitionPenalty: 1.2 } },
  { name: `acd exit ${Math.floor(N / 2)}`, options: { mode: 'acd', amateurLayer: Math.floor(N / 2), repetitionPenalty: 1.2 } },
];
const md = [`# DoLa and amateurLayer 'auto' (bench/dola.mjs)`, '', `Model: ${model.dir} (${N} layers). ${P.promptTokens}-token prompts, ${P.maxNew} new tokens, greedy, median of ${P.reps} alternating runs; per-token time = decode time / generated tokens (first token excluded, as generate's timing).`, ''];
for (const B of P.batches) {
  const prompts = Array.from({ length: B }, (_, i) => randomTokens(P.promptTokens, Math.min(model.vocabSize, 30000), 100 + i));
  const res = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let rep = 0; rep <= P.reps; rep++) {
    for (const v of variants) {
      for (const [k, x] of Object.entries(v.env ?? {})) process.env[k] = x;
      let out;
      try {
        out = await lib.generate(model, prompts, { strategy: 'greedy', maxNewTokens: P.maxNew, minNewTokens: P.maxNew, ...v.options });
      } finally {
        for (const k of Object.keys(v.env ?? {})) delete process.env[k];
      }
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
  const ratioInt8 = median(res["dola high, dolaHead 'int8'"]) / plain;
  results.batches[B].target = { ratio, ratioInt8, limit: target, met: ratio <= target, metInt8: ratioInt8 <= target };
  md.push(`## Batch ${B}`, '', mdTable(['variant', 'ms per token', 'x plain'], rows), '', `dola high / plain = **${fmt(ratio, 3)}** (target <= ${target}: ${ratio <= target ? 'met' : 'not met'}); with dolaHead 'int8' **${fmt(ratioInt8, 3)}** (${ratioInt8 <= target ? 'met' : 'not met'})`, '');
  console.log(`batch ${B}: ${rows.map((r) => `${r[0]} ${r[1]} ms (${r[2]}x)`).join(', ')}`);
}
// The kernel alone, per step, on the model's own head (its int8 block form when it has one).
const layers = model.candidateLayers('high');
const { weight } = model.candidateHead(layers[0]);
const V = model.vocabSize;
const d = weight instanceof Float32Array || weight instanceof Uint16Array ? weight.length / V : weight.q8.length / V;
const C = layers.length;
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 4;
const kernelRows = [];
const kernelRowsI8 = [];
results.kernel = { candidates: C, hiddenSize: d, vocab: V, headForm: weight instanceof Float32Array ? 'float32' : weight instanceof Uint16Array ? '16-bit' : 'int8 blocks (exact)', batches: {} };
for (const B of P.batches) {
  const hidden = Array.from({ length: C }, () => Float32Array.from({ length: B * d }, rnd));
  const stacked = new Float32Array(C * B * d);
  hidden.forEach((h, c) => stacked.set(h, c * B * d));
  const fin = Float32Array.from({ length: B * V }, () => rnd() * 3);
  const logits = lib.candidateLogits(stacked, weight, { hiddenSize: d, vocabSize: V });
  const candLogits = hidden.map((_, c) => logits.subarray(c * B * V, (c + 1) * B * V));
  const out = new Float32Array(B * V);
  const time = (f) => {
    f();
    const t = [];
    for (let i = 0; i < (quick ? 3 : 15); i++) {
      const t0 = process.hrtime.bigint();
      f();
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return median(t);
  };
  const project = time(() => lib.candidateLogits(stacked, weight, { hiddenSize: d, vocabSize: V }));
  const select = time(() => lib.dolaContrast(fin, { logits: candLogits }, { vocabSize: V, out }));
  const whole = time(() => lib.dolaContrast(fin, { hidden, headWeight: weight, hiddenSize: d }, { vocabSize: V, out }));
  const finalHidden = Float32Array.from({ length: B * d }, rnd);
  const finOut = new Float32Array(B * V);
  const withFinal = time(() => lib.dolaContrast(finOut, { hidden, headWeight: weight, hiddenSize: d, finalHidden }, { vocabSize: V, out }));
  const projectI8 = time(() => lib.candidateLogits(stacked, weight, { hiddenSize: d, vocabSize: V, head: 'int8' }));
  const withFinalI8 = time(() => lib.dolaContrast(finOut, { hidden, headWeight: weight, hiddenSize: d, finalHidden }, { vocabSize: V, out, head: 'int8' }));
  const macs = B * C * V * d;
  results.kernel.batches[B] = { projectMs: project, selectFromLogitsMs: select, wholeMs: whole, withFinalMs: withFinal, projectGmacPerS: macs / project / 1e6, perRowTokenMs: whole / B, int8: { projectMs: projectI8, projectGmacPerS: macs / projectI8 / 1e6, withFinalMs: withFinalI8 } };
  kernelRows.push([String(B), `${B * C}`, fmt(project, 2), fmt(macs / project / 1e6, 1), fmt(select, 2), fmt(whole, 2), fmt(withFinal, 2), fmt(whole / B, 2)]);
  kernelRowsI8.push([String(B), `${B * C}`, fmt(projectI8, 2), fmt(macs / projectI8 / 1e6, 1), fmt(withFinalI8, 2), fmt(withFinalI8 / B, 2)]);
}
md.push('## The kernel alone, per step', '', `The model's own head (${results.kernel.headForm}, ${V} x ${d}), ${C} candidates per row, hidden states drawn at random; medians of ${quick ? 3 : 15}. The projection is ${C} x ${V} x ${d} = ${fmt((C * V * d) / 1e6, 1)} M multiply-adds per row.`, '', mdTable(['batch', 'projected rows', 'projection ms', 'GMAC/s', 'softmax + divergence + contrast (from logits) ms', 'whole kernel ms', 'whole kernel, final layer projected too (finalHidden) ms', 'whole per row-token ms'], kernelRows), '');
md.push(`With dolaHead 'int8' (the candidates through the int8 product; the final layer on the exact head in a second pass):`, '', mdTable(['batch', 'projected rows', 'int8 projection ms', 'GMAC/s', "whole kernel, final layer projected too (finalHidden) ms", 'whole per row-token ms'], kernelRowsI8), '');
model.dispose();
results.machine.loadAvgAfter = os.loadavg();
md.push(`Machine: ${results.machine.cpu}, ${results.machine.logicalCores} cores (${isa}); load average before ${load0.map((x) => x.toFixed(1)).join('/')}, after ${results.machine.loadAvgAfter.map((x) => x.toFixed(1)).join('/')} (1/5/15 min; other processes shared the cores).`, '');
const base = outArg ? path.resolve(outArg) : path.join(HERE, 'results', quick ? 'dola-quick' : 'dola');
fs.writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
fs.writeFileSync(`${base}.md`, md.join('\n'));
console.log(`wrote ${path.relative(process.cwd(), base)}.{json,md}`);
