// SmolLM2-135M against its peers on the same weights (not part of npm test), one process run, every variant
// interleaved round by round, ratios from the same run:
//   ours: the faithful default (fused graph, q4) with the fused native loop (the default) and, for before/after,
//   with the decoding chain step by step (AUTOCONTRAST_FUSED=0) and the fused step once per token
//   (AUTOCONTRAST_FUSED=step); fused float32, q4-fast, q4-sym (4-bit re-quantised as genai's builder does); ACD
//   (exit 15) sparse (the default; loop and chain) and dense; q4 plain and ACD with the graph's own head product
//   instead of the runtime's 8-bit head kernel (AUTOCONTRAST_Q8_HEAD=0 at load); q4 and q4-sym with spinning pool
//   threads (always, within a step's Run only, or 'auto': the share of decode steps run spinning is reported);
//   node-llama-cpp 3.21.1 (llama.cpp's prebuilt CPU binary) on the same Q4_1 GGUF;
//   onnxruntime-genai 0.18 on models its own builder made from the same weights (fp32 and int4).
// Greedy, the same prompt token ids for every tool, decode tokens/s (prefill excluded) and prefill tokens/s (the
// prompt to the first token), batch 1 and 8. Our runs never stop at an end-of-sequence token (eos none: the peers
// run their full length too; minNewTokens would mask eos, a processor the fused path does not have).
// Peers are optional and never project dependencies:
//   --nlc=DIR    a scratch folder where `NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm i node-llama-cpp@3.21.1` ran
//   --genai=DIR  the output folder of `python bench/peers/genai_build.py GGUF DIR` (DIR/fp32, DIR/int4)
//   --python=PY  the Python with onnxruntime-genai 0.18 (default python3)
//   --gguf=FILE  the SmolLM2-135M Q4_1 GGUF (default parity/.work/gguf/SmolLM2-135M-Instruct.Q4_1.gguf)
// Other flags: --reps=N --max-new=N --batches=1,8 --prompt-tokens=N (default 32) --threads=N
//   --only=REGEX  run only the variants whose name matches
//   --hog=N       N busy-looping processes beside the run (same priority as the benchmark): the loaded run
//   --work=DIR    keep the converted folders in DIR (default: a temporary folder removed at exit)
//   --prepare     convert the folders (into --work) and exit
//   --out=NAME    write bench/results/NAME.{json,md} (default decode-peers)
// Usage: node bench/decode-peers.mjs [flags]
import { spawn } from 'node:child_process';
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
const P = { promptTokens: Number(arg('prompt-tokens') ?? 32), maxNew: Number(arg('max-new') ?? 64), reps: Number(arg('reps') ?? 3), batches: (arg('batches') ?? '1,8').split(',').map(Number), threads: Number(arg('threads') ?? 2) };
if (!fs.existsSync(gguf)) {
  console.log(`decode-peers benchmark skipped: no GGUF at ${gguf} (--gguf=FILE)`);
  process.exit(0);
}
const loadAverageAtStart = os.loadavg().map((x) => +x.toFixed(2));
const work = arg('work') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ac-peers-'));
if (!arg('work')) process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const only = arg('only') ? new RegExp(arg('only')) : null;
const outName = arg('out') ?? 'decode-peers';

// Folders: each weight form converted once; q4-dense also outputs exit 15's logits (the dense amateur).
const FORMS = [
  { form: 'q4', exitOutputs: 'hidden' },
  { form: 'float32', exitOutputs: 'hidden' },
  { form: 'q4-fast', exitOutputs: 'hidden' },
  { form: 'q4-sym', exitOutputs: 'hidden' },
  { form: 'q4-dense', weightForm: 'q4', exits: [15], exitOutputs: 'both' },
];
for (const f of FORMS) {
  const dir = path.join(work, f.form);
  if (!fs.existsSync(path.join(dir, 'autocontrast.json'))) await lib.convert(gguf, { out: dir, exits: f.exits ?? 'all', exitOutputs: f.exitOutputs, weightForm: f.weightForm ?? f.form, overwrite: true });
}
if (args.includes('--prepare')) process.exit(0);
const PLAIN = { contrast: false };
const ACD = { amateurLayer: 15, alpha: 0.1 };
// name, folder, load options, generate options, AUTOCONTRAST_FUSED
const OURS = [
  { name: 'autocontrast q4 (faithful default)', form: 'q4', options: PLAIN },
  { name: 'autocontrast q4, chain step by step (before)', form: 'q4', options: PLAIN, fused: '0' },
  // the graph's own head product instead of the runtime's 8-bit head kernel (the switch is read at load)
  { name: 'autocontrast q4, graph head (AUTOCONTRAST_Q8_HEAD=0, before)', form: 'q4', options: PLAIN, loadEnv: { AUTOCONTRAST_Q8_HEAD: '0' } },
  { name: 'autocontrast q4, fused step per token', form: 'q4', options: PLAIN, fused: 'step' },
  { name: 'autocontrast q4, ACD exit 15 sparse (the default contrast)', form: 'q4', options: { ...ACD, amateurPath: 'sparse' } },
  { name: 'autocontrast q4, ACD exit 15 sparse, graph head (AUTOCONTRAST_Q8_HEAD=0, before)', form: 'q4', options: { ...ACD, amateurPath: 'sparse' }, loadEnv: { AUTOCONTRAST_Q8_HEAD: '0' } },
  { name: 'autocontrast q4, ACD exit 15 sparse, chain step by step (before)', form: 'q4', options: { ...ACD, amateurPath: 'sparse' }, fused: '0' },
  { name: 'autocontrast q4, ACD exit 15 dense (fused loop)', form: 'q4-dense', options: { ...ACD, amateurPath: 'dense' } },
  { name: 'autocontrast float32', form: 'float32', options: PLAIN },
  { name: 'autocontrast q4-fast', form: 'q4-fast', options: PLAIN },
  { name: 'autocontrast q4-sym (genai\'s int4 arithmetic)', form: 'q4-sym', options: PLAIN },
  // spinning pool threads (ORT's own default, which onnxruntime-genai keeps; ours is off, for contention)
  { name: 'autocontrast q4, spinning threads', form: 'q4', options: PLAIN, load: { allowSpinning: true } },
  { name: 'autocontrast q4, spinning within a step', form: 'q4', options: PLAIN, load: { allowSpinning: 'within-run' } },
  { name: 'autocontrast q4-sym, spinning threads', form: 'q4-sym', options: PLAIN, load: { allowSpinning: true } },
  // adaptive: each decode step in the sleeping or the spinning session, as measured step times favour
  { name: 'autocontrast q4, spinning auto', form: 'q4', options: PLAIN, load: { allowSpinning: 'auto' } },
  { name: 'autocontrast q4-sym, spinning auto', form: 'q4-sym', options: PLAIN, load: { allowSpinning: 'auto' } },
].filter((o, i) => i === 0 || !only || only.test(o.name));
const loaded = new Map();
const models = [];
for (const o of OURS) {
  const key = `${o.form} ${JSON.stringify(o.load ?? {})} ${JSON.stringify(o.loadEnv ?? {})}`;
  if (!loaded.has(key)) {
    for (const [k, v] of Object.entries(o.loadEnv ?? {})) process.env[k] = v;
    loaded.set(key, await lib.load(path.join(work, o.form), { skipValidation: true, intraOpThreads: P.threads, allowSpinning: false, ...o.load }));
    for (const k of Object.keys(o.loadEnv ?? {})) delete process.env[k];
  }
  models.push(loaded.get(key));
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

const variants = OURS.map((o, i) => ({ name: o.name, kind: 'ours', model: models[i], options: o.options, fused: o.fused }));
const nlc = arg('nlc');
const peerNotes = [];
const wanted = (name) => !only || only.test(name);
if (nlc && fs.existsSync(path.join(nlc, 'node_modules', 'node-llama-cpp'))) wanted('node-llama-cpp') && variants.push({ name: 'node-llama-cpp (same Q4_1 GGUF)', kind: 'nlc' });
else peerNotes.push(`node-llama-cpp: not run (${nlc ? `no node-llama-cpp in ${nlc}` : 'no --nlc'})`);
const genai = arg('genai');
const python = arg('python') ?? 'python3';
for (const prec of ['fp32', 'int4']) {
  if (!wanted(`onnxruntime-genai ${prec}`)) continue;
  if (genai && fs.existsSync(path.join(genai, prec, 'genai_config.json'))) variants.push({ name: `onnxruntime-genai ${prec} (its builder, same weights)`, kind: 'genai', dir: path.join(genai, prec) });
  else peerNotes.push(`onnxruntime-genai ${prec}: not run (${genai ? `no ${path.join(genai, prec)}` : 'no --genai'})`);
}

// The loaded run: busy loops beside the benchmark, at its priority (children inherit its nice value).
const hogs = Array.from({ length: Number(arg('hog') ?? 0) }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
process.on('exit', () => hogs.forEach((h) => h.kill('SIGKILL')));
if (hogs.length) await new Promise((r) => setTimeout(r, 1000));
const res = {};
for (const B of P.batches) {
  res[B] = Object.fromEntries(variants.map((v) => [v.name, { tokensPerSecond: [] }]));
  for (let rep = 0; rep <= P.reps; rep++) {
    for (const v of variants) {
      const r = res[B][v.name];
      r.prefillTokensPerSecond ??= [];
      if (v.kind === 'ours') {
        if (v.fused) process.env.AUTOCONTRAST_FUSED = v.fused;
        else delete process.env.AUTOCONTRAST_FUSED;
        const spin0 = v.model.runtime.spinningStats();
        const out = await lib.generate(v.model, batchPrompts(B), { strategy: 'greedy', maxNewTokens: P.maxNew, eosTokenId: [], ...v.options });
        const spin1 = v.model.runtime.spinningStats();
        delete process.env.AUTOCONTRAST_FUSED;
        if (rep > 0 && spin1.twin) {
          r.spin ??= { decodeSteps: 0, spinningSteps: 0, probes: 0 };
          for (const k of ['decodeSteps', 'spinningSteps', 'probes']) r.spin[k] += spin1[k] - spin0[k];
        }
        if (rep > 0) {
          r.tokensPerSecond.push(out[0].timing.tokensPerSecond);
          r.prefillTokensPerSecond.push((P.promptTokens * B) / (out[0].timing.prefillMs / 1000));
        }
        r.firstRow = out[0].tokens;
        r.fused = out[0].timing.fused;
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
      if (rep > 0) {
        r.tokensPerSecond.push(out.runs[0].tokensPerSecond[0]);
        if (out.runs[0].prefillMs?.[0]) r.prefillTokensPerSecond.push((P.promptTokens * B) / (out.runs[0].prefillMs[0] / 1000));
      }
    }
    console.log(`batch ${B} round ${rep}: ${variants.map((v) => `${v.name} ${fmt(res[B][v.name].tokensPerSecond.at(-1), 1)}`).join(', ')}`);
  }
  for (const r of Object.values(res[B])) {
    r.median = median(r.tokensPerSecond);
    r.prefillMedian = r.prefillTokensPerSecond.length ? median(r.prefillTokensPerSecond) : undefined;
  }
}

const m = machine({ ort: lib.runtime.ortVersion().version, loadAverageAtStart });
m.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
const base = (B, name) => res[B][name]?.median;
const base2 = (B, name) => res[B][name]?.prefillMedian;
const FLOAT32 = 'autocontrast float32';
const GENAI_INT4 = 'onnxruntime-genai int4 (its builder, same weights)';
const same = (a, b) => (a && b ? (JSON.stringify(a) === JSON.stringify(b) ? 'yes' : 'no') : '-');
const rows = [];
for (const B of P.batches) {
  for (const v of variants) {
    const r = res[B][v.name];
    rows.push([B, v.name, r.error ? `failed: ${r.error.slice(0, 120)}` : fmt(r.median, 1), r.tokensPerSecond.map((x) => fmt(x, 1)).join(', '),
      `${fmt(r.median / base(B, OURS[0].name))}x`, r.prefillMedian ? fmt(r.prefillMedian, 0) : '-', `${fmt(r.prefillMedian / base2(B, OURS[0].name))}x`,
      same(r.firstRow, res[B][FLOAT32]?.firstRow), same(r.firstRow, res[B][GENAI_INT4]?.firstRow),
      same(r.firstRow, res[B][OURS[0].name]?.firstRow),
      r.spin ? `${fmt((100 * r.spin.spinningSteps) / r.spin.decodeSteps, 0)}% (${fmt((100 * r.spin.probes) / r.spin.decodeSteps, 0)}% probes)` : '-']);
  }
}
const doc = { machine: m, params: { ...P, hogs: hogs.length }, peerNotes, results: res };
fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
fs.writeFileSync(path.join(HERE, 'results', `${outName}.json`), `${JSON.stringify(doc, null, 2)}\n`);
const md = `# SmolLM2-135M against peers on the same weights (\`node bench/decode-peers.mjs\`)\n\n${m.date}. Machine: ${m.cpu}, ${m.logicalCores} logical / ${m.physicalCores ?? '?'} physical cores, ${m.memoryGiB} GiB; ${m.platform}; Node ${m.node}, onnxruntime ${m.ort}; ${P.threads} threads for every tool. ` +
  `Load average at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')} (compare ratios within the table).` +
  `${hogs.length ? ` **Loaded run: ${hogs.length} busy-looping processes ran beside every tool, at the benchmark's priority.**` : ''}\n\n` +
  `Greedy, the same ${P.promptTokens} prompt token ids for every tool, ${P.maxNew} new tokens; decode tokens/s (prefill excluded) and prefill tokens/s (prompt tokens x rows / time from the prompt to the first token), medians of ${P.reps} interleaved rounds after a warm-up round. ` +
  `"same tokens" compares row 0's tokens with our float32 form's and with onnxruntime-genai int4's.${peerNotes.length ? ` ${peerNotes.join('; ')}.` : ''}\n\n` +
  mdTable(['batch', 'tool / form', 'decode tokens/s', 'runs', 'vs our faithful default', 'prefill tokens/s', 'prefill vs ours', 'same tokens as our float32', 'same tokens as genai int4', 'same tokens as our default', "decode steps spinning ('auto')"], rows) + '\n';
fs.writeFileSync(path.join(HERE, 'results', `${outName}.md`), md);
console.log(md);
for (const x of loaded.values()) x.dispose();
hogs.forEach((h) => h.kill('SIGKILL'));
