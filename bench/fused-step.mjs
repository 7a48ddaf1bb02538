// The fused native step (contrast + the chain's selection in one native call, src/decoding/pipeline.ts
// `fusedSelection`) against the chain step by step, on the pulled default model (SmolLM2-135M): per-token
// decode time at batch 1 and 8, greedy and top-p sampling, ACD with amateur exit 15. Variants in one run,
// alternating, medians of `--reps` rounds:
//   sparse chain  the default path (exit hidden state x head rows of the plausible head; not fusable)
//   dense chain   exit logits from the graph, contrast + processors + selection in JavaScript (AUTOCONTRAST_FUSED=0)
//   dense fused   the same outputs, one native call per step
// Tokens of the two dense variants are compared (they must be equal). Writes bench/results/fused-step.{json,md}.
// The pulled folder's exits are hidden-only (the sparse path), so the model is converted once from the GGUF with
// exit 15 giving both its hidden state and its logits (default weight form), into the temp folder.
// Usage: node bench/fused-step.mjs --gguf=SmolLM2-135M-Instruct.Q4_1.gguf [--reps=3] [--new=48]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import { fmt, machine, mdTable, median } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (k, d) => Number(args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d);
const REPS = arg('reps', 3);
const NEW = arg('new', 48);

const gguf = args.find((a) => a.startsWith('--gguf='))?.slice(7);
if (!gguf || !fs.existsSync(gguf)) {
  console.log('fused-step benchmark skipped: give --gguf=PATH of SmolLM2-135M-Instruct.Q4_1.gguf (parity/.work/gguf/ after npm run parity)');
  process.exit(0);
}
const dir = path.join(os.tmpdir(), 'ac-fused-step-smollm2');
if (!fs.existsSync(path.join(dir, 'autocontrast.json'))) await lib.convert(gguf, { out: dir, exits: [15], exitOutputs: 'both', overwrite: true });
const model = await lib.load(dir);
const base = ['Once upon a time', 'The capital of France is', 'In 1905, Albert Einstein', 'My favourite recipe for bread',
  'The weather today', 'Photosynthesis is the process', 'A good programmer', 'The history of Rome'];
const variants = [
  { name: 'sparse chain', o: { amateurPath: 'sparse' }, fused: false },
  { name: 'dense chain', o: { amateurPath: 'dense' }, fused: false, env: '0' },
  { name: 'dense fused', o: { amateurPath: 'dense' }, fused: true },
];
const strategies = [
  { name: 'greedy', o: {} },
  { name: 'top-p 0.9', o: { strategy: 'top-p', topP: 0.9, seed: 5 } },
];
const rows = [];
const out = { machine: machine({ loadBefore: os.loadavg() }), reps: REPS, newTokens: NEW, results: [] };
for (const batch of [1, 8]) {
  const prompts = base.slice(0, batch);
  for (const s of strategies) {
    const times = new Map(variants.map((v) => [v.name, []]));
    const tokens = new Map();
    for (let rep = -1; rep < REPS; rep++) {
      for (const v of rep % 2 ? variants : [...variants].reverse()) {
        if (v.env) process.env.AUTOCONTRAST_FUSED = v.env;
        const t0 = performance.now();
        const r = await lib.generate(model, batch === 1 ? prompts[0] : prompts, { amateurLayer: 15, maxNewTokens: NEW, eosTokenId: [], ...s.o, ...v.o });
        const ms = performance.now() - t0;
        delete process.env.AUTOCONTRAST_FUSED;
        const rs = Array.isArray(r) ? r : [r];
        if (rs[0].timing.fused !== v.fused) throw new Error(`${v.name}: fused ${rs[0].timing.fused}`);
        if (rep >= 0) times.get(v.name).push(ms / NEW);
        tokens.set(v.name, rs.map((x) => x.tokens.join(',')).join('|'));
      }
    }
    const same = tokens.get('dense chain') === tokens.get('dense fused');
    const m = Object.fromEntries(variants.map((v) => [v.name, median(times.get(v.name))]));
    out.results.push({ batch, strategy: s.name, msPerStep: m, denseTokensEqual: same });
    rows.push([batch, s.name, fmt(m['sparse chain']), fmt(m['dense chain']), fmt(m['dense fused']),
      fmt(m['dense chain'] / m['dense fused'], 3), fmt(m['sparse chain'] / m['dense fused'], 3), same ? 'yes' : 'NO']);
    console.log(rows.at(-1).join('  '));
  }
}
model.dispose();
out.machine.loadAfter = os.loadavg();
const md = [
  '# Fused native step vs the decoding chain (bench/fused-step.mjs)',
  '',
  `Machine: ${out.machine.cpu}, ${out.machine.logicalCores} logical cores; load average before ${out.machine.loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${out.machine.loadAfter.map((x) => x.toFixed(2)).join(' / ')}.`,
  `SmolLM2-135M (default weight form, converted with exit 15's logits and hidden state), ACD amateur exit 15, ${NEW} new tokens, median of ${REPS} alternating rounds; ms per decode step (whole generate call / new tokens).`,
  '',
  mdTable(['batch', 'strategy', 'sparse chain', 'dense chain', 'dense fused', 'chain / fused (dense)', 'sparse chain / dense fused', 'dense tokens equal'], rows),
  '',
].join('\n');
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', 'fused-step.json'), JSON.stringify(out, null, 2));
fs.writeFileSync(path.join(HERE, 'results', 'fused-step.md'), md);
console.log(md);
