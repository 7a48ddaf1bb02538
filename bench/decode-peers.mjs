// SmolLM2-135M against its peers on the same weights (not part of npm test), one process run, every variant
// interleaved round by round, ratios from the same run:
//   ours: the faithful default (fused graph, q4), fused float32, fused q4-fast, fused q4-sym (4-bit re-quantised as
//   genai's builder does), plain and ACD (exit 15, sparse); q4 and q4-sym again with spinning pool threads;
//   node-llama-cpp 3.21.1 (llama.cpp's prebuilt CPU binary) on the same Q4_1 GGUF;
//   onnxruntime-genai 0.18 on models its own builder made from the same weights (fp32 and int4).
// Greedy, the same prompt token ids for every tool, decode tokens/s (prefill excluded), batch 1 and 8.
// Peers are optional and never project dependencies:
//   --nlc=DIR    a scratch folder where `NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm i node-llama-cpp@3.21.1` ran
//   --genai=DIR  the output folder of `python bench/peers/genai_build.py GGUF DIR` (DIR/fp32, DIR/int4)
//   --python=PY  the Python with onnxruntime-genai 0.18 (default python3)
//   --gguf=FILE  the SmolLM2-135M Q4_1 GGUF (default parity/.work/gguf/SmolLM2-135M-Instruct.Q4_1.gguf)
// Writes bench/results/decode-peers.{json,md}. Usage: node bench/decode-peers.mjs [--reps=N] [--max-new=N] [--batches=1,8] ...
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import { runChild, tmpJob } from './lib/child.mjs';
import { fmt, machine, mdTable, median } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const args = process.argv.slice(2);
const arg = (k) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const gguf = arg('gguf') ?? path.join(ROOT, 'parity', '.work', 'gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const P = { promptTokens: 32, maxNew: Number(arg('max-new') ?? 64), reps: Number(arg('reps') ?? 3), batches: (arg('batches') ?? '1,8').split(',').map(Number), threads: Number(arg('threads') ?? 2) };
if (!fs.existsSync(gguf)) {
  console.log(`decode-peers benchmark skipped: no GGUF at ${gguf} (--gguf=FILE)`);
  process.exit(0);
}
const loadAverageAtStart = os.loadavg().map((x) => +x.toFixed(2));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-peers-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

const OURS = [
  { name: 'autocontrast q4 (faithful default)', weightForm: 'q4' },
  { name: 'autocontrast float32', weightForm: 'float32' },
  { name: 'autocontrast q4-fast', weightForm: 'q4-fast' },
  { name: 'autocontrast q4-sym (genai\'s int4 arithmetic)', weightForm: 'q4-sym' },
  // the same folders with ONNX Runtime's pool threads spinning (ORT's own default, which onnxruntime-genai keeps;
  // ours is off, for contention)
  { name: 'autocontrast q4 (faithful default), spinning threads', weightForm: 'q4', allowSpinning: true },
  { name: 'autocontrast q4-sym, spinning threads', weightForm: 'q4-sym', allowSpinning: true },
];
const models = [];
for (const o of OURS) {
  const dir = path.join(work, o.weightForm);
  if (!fs.existsSync(dir)) await lib.convert(gguf, { out: dir, exits: 'all', exitOutputs: 'hidden', weightForm: o.weightForm, overwrite: true });
  models.push(await lib.load(dir, { skipValidation: true, intraOpThreads: P.threads, allowSpinning: o.allowSpinning ?? false }));
}
const texts = [
  'The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable metal type, oil-based ink and a wooden press adapted from wine making.',
  'Photosynthesis is the process by which green plants and some other organisms use sunlight to synthesize foods from carbon dioxide and water, releasing oxygen as a by-product.',
];
const prompts = texts.map((t) => {
  let ids = lib.encodePrompt(models[0], t, { chatTemplate: 'none', addSpecialTokens: false });
  while (ids.length < P.promptTokens) ids = ids.concat(ids);
  return ids.slice(0, P.promptTokens);
});
const batchPrompts = (B) => Array.from({ length: B }, (_, r) => prompts[r % prompts.length]);

const variants = [];
OURS.forEach((o, i) => {
  variants.push({ name: o.name, kind: 'ours', model: models[i], options: { contrast: false } });
  if (o.weightForm === 'q4' && !o.allowSpinning) variants.push({ name: `${o.name}, ACD exit 15`, kind: 'ours', model: models[i], options: { amateurLayer: 15, alpha: 0.1, amateurPath: 'sparse' } });
});
const nlc = arg('nlc');
const peerNotes = [];
if (nlc && fs.existsSync(path.join(nlc, 'node_modules', 'node-llama-cpp'))) variants.push({ name: 'node-llama-cpp (same Q4_1 GGUF)', kind: 'nlc' });
else peerNotes.push(`node-llama-cpp: not run (${nlc ? `no node-llama-cpp in ${nlc}` : 'no --nlc'})`);
const genai = arg('genai');
const python = arg('python') ?? 'python3';
for (const prec of ['fp32', 'int4']) {
  if (genai && fs.existsSync(path.join(genai, prec, 'genai_config.json'))) variants.push({ name: `onnxruntime-genai ${prec} (its builder, same weights)`, kind: 'genai', dir: path.join(genai, prec) });
  else peerNotes.push(`onnxruntime-genai ${prec}: not run (${genai ? `no ${path.join(genai, prec)}` : 'no --genai'})`);
}

const res = {};
for (const B of P.batches) {
  res[B] = Object.fromEntries(variants.map((v) => [v.name, { tokensPerSecond: [] }]));
  for (let rep = 0; rep <= P.reps; rep++) {
    for (const v of variants) {
      const r = res[B][v.name];
      if (v.kind === 'ours') {
        const out = await lib.generate(v.model, batchPrompts(B), { strategy: 'greedy', maxNewTokens: P.maxNew, minNewTokens: P.maxNew, ...v.options });
        if (rep > 0) r.tokensPerSecond.push(out[0].timing.tokensPerSecond);
        r.firstRow = out[0].tokens;
        continue;
      }
      // peers: one child per round (each loads its model; only decode time counts)
      const job = tmpJob({ prompts: batchPrompts(B), batches: [B], maxNew: P.maxNew, reps: 0, threads: P.threads });
      const out = v.kind === 'nlc'
        ? await runChild(process.execPath, [path.join(HERE, 'peers', 'node_llama_cpp.mjs'), nlc, gguf, job], 20 * 60e3)
        : await runChild(python, [path.join(HERE, 'peers', 'genai_peer.py'), v.dir, job], 20 * 60e3);
      if (!out.ok) {
        r.error = out.error;
        continue;
      }
      r.version = out.version;
      r.firstRow = out.runs[0].firstRow;
      // reps 0 in the child: its single run is a first run; the warm-up round (rep 0) here is dropped as for ours
      if (rep > 0) r.tokensPerSecond.push(out.runs[0].tokensPerSecond[0]);
    }
    console.log(`batch ${B} round ${rep}: ${variants.map((v) => `${v.name} ${fmt(res[B][v.name].tokensPerSecond.at(-1), 1)}`).join(', ')}`);
  }
  for (const r of Object.values(res[B])) r.median = median(r.tokensPerSecond);
}

const m = machine({ ort: lib.runtime.ortVersion().version, loadAverageAtStart });
m.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
const base = (B, name) => res[B][name]?.median;
const GENAI_INT4 = 'onnxruntime-genai int4 (its builder, same weights)';
const same = (a, b) => (a && b ? (JSON.stringify(a) === JSON.stringify(b) ? 'yes' : 'no') : '-');
const rows = [];
for (const B of P.batches) {
  for (const v of variants) {
    const r = res[B][v.name];
    rows.push([B, v.name, r.error ? `failed: ${r.error.slice(0, 120)}` : fmt(r.median, 1), r.tokensPerSecond.map((x) => fmt(x, 1)).join(', '),
      `${fmt(r.median / base(B, OURS[0].name))}x`, same(r.firstRow, res[B][OURS[1].name].firstRow), same(r.firstRow, res[B][GENAI_INT4]?.firstRow)]);
  }
}
const doc = { machine: m, params: P, peerNotes, results: res };
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', 'decode-peers.json'), `${JSON.stringify(doc, null, 2)}\n`);
const md = `# SmolLM2-135M against peers on the same weights (\`node bench/decode-peers.mjs\`)\n\n${m.date}. Machine: ${m.cpu}, ${m.logicalCores} logical / ${m.physicalCores ?? '?'} physical cores, ${m.memoryGiB} GiB; ${m.platform}; Node ${m.node}, onnxruntime ${m.ort}; ${P.threads} threads for every tool. ` +
  `Load average at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')} (other jobs shared the cores: compare ratios within the table).\n\n` +
  `Greedy, the same ${P.promptTokens} prompt token ids for every tool, ${P.maxNew} new tokens, decode tokens/s (prefill excluded), median of ${P.reps} interleaved rounds after a warm-up round. ` +
  `"same tokens" compares row 0's tokens with our float32 form's and with onnxruntime-genai int4's.${peerNotes.length ? ` ${peerNotes.join('; ')}.` : ''}\n\n` +
  mdTable(['batch', 'tool / form', 'tokens/s', 'runs', 'vs our faithful default', 'same tokens as our float32', 'same tokens as genai int4'], rows) + '\n';
fs.writeFileSync(path.join(HERE, 'results', 'decode-peers.md'), md);
console.log(md);
models.forEach((x) => x.dispose());
