// Weight forms and session settings of SmolLM2-135M (not part of npm test), all in one process run, variants
// interleaved, ratios from the same run:
//  1. forms: the old default (reference graph, 4-bit with int8 activations), and the fused graph with float32,
//     4-bit with float activations (the faithful default `pull` installs) and 4-bit with int8 activations
//     (`q4-fast`): decode tokens/s at batch 1 and 8, plain and ACD (exit 15, sparse amateur), plus the CPU time
//     per token (a figure the other jobs on a shared machine disturb less than wall time);
//  2. session settings on the default form: intra-op threads, spinning, graph optimisation level.
// The node counts per decode step of each graph are in `node scripts/graph-nodes.mjs`.
// Usage: node bench/weight-forms.mjs [--gguf=FILE] [--quick] [--skip=forms,settings] [--batches=1,8] [--reps=N]
// The GGUF: --gguf, else $AUTOCONTRAST_SMOLLM_GGUF, else parity/.work/gguf/SmolLM2-135M-Instruct.Q4_1.gguf.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import { fmt, machine, mdTable, median } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const args = process.argv.slice(2);
const arg = (k) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const quick = args.includes('--quick');
const skip = new Set((arg('skip') ?? '').split(',').filter(Boolean));
const gguf = arg('gguf') ?? process.env.AUTOCONTRAST_SMOLLM_GGUF ?? path.join(ROOT, 'parity', '.work', 'gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf');
if (!fs.existsSync(gguf)) {
  console.log(`weight-forms benchmark skipped: no GGUF at ${gguf} (pass --gguf=FILE or run npm run parity -- --only=c)`);
  process.exit(0);
}
const status = lib.runtime.runtimeStatus();
if (!status.available) {
  console.log(`weight-forms benchmark skipped: runtime not built (${status.reason})`);
  process.exit(0);
}
const P = { promptTokens: 32, maxNew: quick ? 24 : 64, reps: Number(arg('reps') ?? (quick ? 1 : 3)), batches: (arg('batches') ?? '1,8').split(',').map(Number) };
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-forms-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const results = { params: P, machine: machine({ ort: lib.runtime.ortVersion().version }), sections: {} };
const md = [];

const FORMS = [
  { name: 'old default: reference graph, q4-fast', graphForm: 'reference', weightForm: 'q4-fast', baseline: true },
  { name: 'fused, float32', graphForm: 'fused', weightForm: 'float32' },
  { name: 'fused, q4 (faithful default)', graphForm: 'fused', weightForm: 'q4' },
  { name: 'fused, q4-fast', graphForm: 'fused', weightForm: 'q4-fast' },
];

const text = 'The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable metal type, oil-based ink and a wooden press adapted from wine making.';

/** Runs every (model, options) variant once as warm-up, then `reps` interleaved rounds; medians. */
async function interleaved(variants, batch) {
  const res = variants.map(() => ({ tokensPerSecond: [], cpuMsPerToken: [] }));
  for (let rep = 0; rep <= P.reps; rep++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[i];
      let ids = lib.encodePrompt(v.model, text, { chatTemplate: 'none', addSpecialTokens: false });
      ids = ids.slice(0, P.promptTokens);
      const c0 = process.cpuUsage();
      const out = await lib.generate(v.model, Array(batch).fill(ids), { strategy: 'greedy', maxNewTokens: P.maxNew, minNewTokens: P.maxNew, ...v.options });
      const c = process.cpuUsage(c0);
      if (rep === 0) {
        res[i].tokens = out[0].tokens;
        continue;
      }
      res[i].tokensPerSecond.push(out[0].timing.tokensPerSecond);
      res[i].cpuMsPerToken.push((c.user + c.system) / 1000 / (P.maxNew * batch));
    }
  }
  for (const r of res) {
    r.median = median(r.tokensPerSecond);
    r.cpuMedian = median(r.cpuMsPerToken);
  }
  return res;
}

if (!skip.has('forms')) {
  const models = [];
  for (const f of FORMS) {
    const dir = path.join(work, `${f.graphForm}-${f.weightForm}`);
    // the layout `pull` writes: every layer's exit, hidden states only
    await lib.convert(gguf, { out: dir, exits: 'all', exitOutputs: 'hidden', weightForm: f.weightForm, graphForm: f.graphForm, overwrite: true });
    models.push(await lib.load(dir, { skipValidation: true }));
  }
  const rows = [];
  const sec = (results.sections.forms = {});
  for (const B of P.batches) {
    for (const [mode, options] of [['plain', { contrast: false }], ['ACD exit 15', { amateurLayer: 15, alpha: 0.1, amateurPath: 'sparse' }]]) {
      const variants = FORMS.map((f, i) => ({ model: models[i], options }));
      const r = await interleaved(variants, B);
      sec[`${B}/${mode}`] = r.map((x, i) => ({ form: FORMS[i].name, ...x }));
      const base = r[0];
      FORMS.forEach((f, i) => rows.push([B, mode, f.name, fmt(r[i].median, 1), `${fmt(r[i].median / base.median)}x`, fmt(r[i].cpuMedian, 1), `${fmt(base.cpuMedian / r[i].cpuMedian)}x`,
        JSON.stringify(r[i].tokens) === JSON.stringify(r[1].tokens) ? 'yes' : 'no']));
      console.log(rows.slice(-FORMS.length).map((x) => x.join(' | ')).join('\n'));
    }
  }
  models.forEach((m) => m.dispose());
  md.push(`## Weight forms (SmolLM2-135M, ${P.promptTokens}-token prompt, ${P.maxNew} new tokens, greedy, median of ${P.reps} interleaved runs, default session settings)\n\n` +
    'Speed ratios are against the old default (reference graph, q4-fast) in the same run; "CPU" is process CPU time per generated token ' +
    '(less disturbed by other jobs than wall time; lower is better; its ratio is old/new). "same tokens" compares row 0 with the fused float32 form.\n\n' +
    mdTable(['batch', 'mode', 'form', 'tokens/s', 'vs old default', 'CPU ms/token', 'CPU vs old default', 'same tokens as float32'], rows));
}

if (!skip.has('settings')) {
  const dir = path.join(work, 'settings-q4');
  await lib.convert(gguf, { out: dir, exits: 'all', exitOutputs: 'hidden', weightForm: 'q4', overwrite: true });
  const SETTINGS = [
    { name: 'default (physical cores, spinning, level 99)', options: {} },
    { name: 'spinning off', options: { allowSpinning: false } },
    { name: '1 thread', options: { intraOpThreads: 1 } },
    { name: '1 thread, spinning off', options: { intraOpThreads: 1, allowSpinning: false } },
    { name: 'optimisation level 1 (basic)', options: { optimizationLevel: 1 } },
    { name: 'optimisation level 2 (extended)', options: { optimizationLevel: 2 } },
  ];
  const models = [];
  for (const s of SETTINGS) models.push(await lib.load(dir, { skipValidation: true, ...s.options }));
  const r = await interleaved(models.map((model) => ({ model, options: { contrast: false } })), 1);
  results.sections.settings = r.map((x, i) => ({ setting: SETTINGS[i].name, ...x }));
  const rows = SETTINGS.map((s, i) => [s.name, fmt(r[i].median, 1), `${fmt(r[i].median / r[0].median)}x`, fmt(r[i].cpuMedian, 1)]);
  console.log(rows.map((x) => x.join(' | ')).join('\n'));
  models.forEach((m) => m.dispose());
  md.push(`## Session settings (fused q4 form, batch 1, plain greedy, ${P.maxNew} new tokens, median of ${P.reps} interleaved runs)\n\n` +
    mdTable(['setting', 'tokens/s', 'vs default', 'CPU ms/token'], rows));
}

results.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
const m = results.machine;
const head = `# Weight forms and session settings (\`node bench/weight-forms.mjs\`)\n\n${m.date}. Machine: ${m.cpu}, ${m.logicalCores} logical / ${m.physicalCores ?? '?'} physical cores, ${m.memoryGiB} GiB; ${m.platform}; Node ${m.node}, onnxruntime ${m.ort}. ` +
  `Load average at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')} (other jobs shared the cores: absolute figures are depressed and noisy; compare ratios within a table).\n`;
const name = quick ? 'weight-forms-quick' : 'weight-forms';
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
fs.writeFileSync(path.join(HERE, 'results', `${name}.md`), `${head}\n${md.join('\n\n')}\n`);
console.log(`wrote bench/results/${name}.md`);
