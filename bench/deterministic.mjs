// The cost of deterministic mode (issue 11, item 4; not part of npm test): generate() on the default model
// (the pulled smollm2-135m: 4-bit weights, float activations) with and without `deterministic: true`, ACD greedy
// (exit 15, sparse amateur) and plain greedy, at batch 1 and 8, the two modes interleaved in one process; medians
// of wall time per call (prefill included: deterministic mode feeds the prompt one token per run). Also checks
// that the deterministic rows equal batch 1's bit for bit.
// Usage: node bench/deterministic.mjs [--model=DIR] [--reps=N] [--new=N]   (run under the bench lock, see README)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import cache from '../dist/model/pull/cache-dir.js';
import { fmt, machine, mdTable, median } from './lib/decode-stats.mjs';
import { FIDELITY_PROMPTS } from '../parity/lib/fidelity.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (k) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const dir = arg('model') ?? cache.cachedModelDir('smollm2-135m');
const P = { reps: Number(arg('reps') ?? 2), maxNew: Number(arg('new') ?? 32) };
if (!fs.existsSync(path.join(dir, 'autocontrast.json'))) {
  console.log(`deterministic benchmark skipped: no model at ${dir} (autocontrast pull smollm2-135m, or --model=DIR)`);
  process.exit(0);
}
// eight of the fidelity check's prompts (5-20 tokens)
const PROMPTS = [0, 5, 3, 7, 20, 4, 9, 12].map((i) => FIDELITY_PROMPTS[i]);
const results = { params: P, model: dir, machine: machine({ ort: lib.runtime.ortVersion().version }), rows: [] };
const model = await lib.load(dir);
const promptTokens = PROMPTS.map((p) => model.tokenizer.encode(p).length);
const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer)).join(',');
const key = (r) => `${r.tokens.join(',')}|${bits(r.logProbs)}`;
const rows = [];
for (const [mode, options] of [['ACD exit 15', { amateurLayer: 15, amateurPath: 'sparse' }], ['plain', { contrast: false }]]) {
  for (const B of [1, 8]) {
    const prompts = PROMPTS.slice(0, B);
    const opts = { ...options, maxNewTokens: P.maxNew, minNewTokens: P.maxNew };
    const ms = { normal: [], deterministic: [] };
    let detOut;
    for (let rep = 0; rep <= P.reps; rep++) {
      for (const det of [false, true]) {
        const t0 = performance.now();
        const out = await lib.generate(model, prompts, { ...opts, deterministic: det });
        const wall = performance.now() - t0;
        if (det) detOut = out;
        if (rep > 0) ms[det ? 'deterministic' : 'normal'].push(wall);
      }
    }
    let same = 'n/a';
    if (B > 1) {
      const alone = await lib.generate(model, prompts[B - 1], { ...opts, deterministic: true });
      same = key(alone) === key(detOut[B - 1]) ? 'yes' : 'NO';
    }
    const n = median(ms.normal), d = median(ms.deterministic);
    const row = { mode, batch: B, normalMs: n, deterministicMs: d, ratio: d / n, sameBitsAsAlone: same };
    results.rows.push(row);
    rows.push([mode, B, fmt(n, 0), fmt(d, 0), `${fmt(d / n)}x`, same]);
    console.log(rows.at(-1).join(' | '));
  }
}
model.dispose();
results.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
const m = results.machine;
const md = `# Cost of deterministic mode (\`node bench/deterministic.mjs\`)

${m.date}. Machine: ${m.cpu}, ${m.logicalCores} logical / ${m.physicalCores ?? '?'} physical cores, ${m.memoryGiB} GiB; ${m.platform}; Node ${m.node}, onnxruntime ${m.ort}. Load average at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')} (other jobs shared the cores: compare the ratios, not the times).

Model: the pulled smollm2-135m (4-bit weights, float activations, fused graph), default session settings. Each call: prompts of ${promptTokens.slice(0, 8).join(', ')} tokens (batch 1: the first), ${P.maxNew} new tokens, wall time of the whole generate() (prefill included), median of ${P.reps} interleaved rounds after a warm-up. "same bits" compares the batch's last row with that prompt decoded alone in deterministic mode (tokens and log-probabilities).

${mdTable(['mode', 'batch', 'normal ms', 'deterministic ms', 'deterministic / normal', 'same bits as alone'], rows)}
`;
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', 'deterministic.json'), `${JSON.stringify(results, null, 2)}\n`);
fs.writeFileSync(path.join(HERE, 'results', 'deterministic.md'), md);
console.log('wrote bench/results/deterministic.md');
