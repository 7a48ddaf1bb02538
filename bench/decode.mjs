// Decode benchmarks (not part of npm test), all in one process run, ratios from the same run:
//  1. GPT-2-small-shaped model (random weights): tokens/s at batch 1 and 8 through the public `generate`,
//     plain greedy vs ACD greedy with a logit-lens exit (layer 6) and with a trained-head exit (layer 8), both
//     on the sparse amateur path; prompts of 32 tokens, 64 new tokens, alternating runs, medians.
//  2. Per step at batch 1: time outside ONNX Runtime's Run (runtime runMs/stepMs vs JS wall time) at contexts
//     64/256/1024, and the same decode loop on onnxruntime-node's JS API (KV cache through JavaScript).
//  3. Event-loop delay (monitorEventLoopDelay p99) while a long generation runs.
//  4. Peer: transformers.js greedy on the same plain graph (from $AUTOCONTRAST_TRANSFORMERS_JS, if set).
//  5. SmolLM2-135M (pulled folder): plain vs ACD (exit 15, lens, sparse) at batch 1 and 8, and the PyTorch
//     transformers peer (GGUF, plain and with the reference contrast as a LogitsProcessor).
// Writes bench/results/decode.{json,md} (decode-quick.* with --quick). Usage: npm run bench:decode [-- --quick]
//   [--skip=gpt2,step,loop,tjs,smollm,torch]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

import lib from '../dist/index.js';
import { gpt2ExitsModel, gpt2PlainHfModel } from './lib/decode-models.mjs';
import { argmaxRow, fmt, machine, mdTable, median, pct, randomTokens } from './lib/decode-stats.mjs';
import { runChild, tmpJob } from './lib/child.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const skip = new Set((args.find((a) => a.startsWith('--skip='))?.slice(7) ?? '').split(',').filter(Boolean));
const P = {
  promptTokens: 32,
  maxNew: quick ? 16 : 64,
  reps: quick ? 1 : 3,
  contexts: quick ? [64, 256] : [64, 256, 1024],
  stepsPerContext: quick ? 4 : 16,
  loopTokens: quick ? 48 : 256,
  torchReps: Number(args.find((a) => a.startsWith('--torch-reps='))?.slice(13) ?? (quick ? 1 : 3)),
};
const status = lib.runtime.runtimeStatus();
if (!status.available) {
  console.log(`decode benchmark skipped: runtime not built (${status.reason})`);
  process.exit(0);
}
const ortInfo = lib.runtime.ortVersion();
const results = { quick, params: P, machine: machine({ ort: ortInfo.version, ortApi: ortInfo.apiVersion }), sections: {} };
const md = [];
const log = (...a) => console.log(...a);
const gen = { strategy: 'greedy', maxNewTokens: P.maxNew, minNewTokens: P.maxNew };

/** Runs each variant once as warm-up, then `reps` rounds in alternating order; median tokens/s per variant. */
async function alternate(model, variants, prompts, reps) {
  const res = Object.fromEntries(variants.map((v) => [v.name, { tokensPerSecond: [], wallMs: [], prefillMs: [] }]));
  for (let rep = 0; rep <= reps; rep++) {
    for (const v of variants) {
      const t0 = performance.now();
      const out = await lib.generate(model, prompts, { ...gen, ...v.options });
      const wall = performance.now() - t0;
      const t = out[0].timing;
      if (t.tokens !== P.maxNew * prompts.length) throw new Error(`${v.name}: ${t.tokens} tokens, expected ${P.maxNew * prompts.length}`);
      if (rep === 0) {
        res[v.name].firstRow = out[0].tokens;
        continue;
      }
      res[v.name].tokensPerSecond.push(t.tokensPerSecond);
      res[v.name].wallMs.push(wall);
      res[v.name].prefillMs.push(t.prefillMs);
    }
  }
  for (const r of Object.values(res)) r.median = median(r.tokensPerSecond);
  return res;
}

const sameTokens = (a, b) => Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);

// ---------------------------------------------------------------- 1. GPT-2 small: plain vs ACD
const gptPrompts = Array.from({ length: 8 }, (_, i) => randomTokens(P.promptTokens, 50257, 100 + i));
let threads;
if (!skip.has('gpt2') || !skip.has('step') || !skip.has('loop')) {
  const m = await gpt2ExitsModel({ log });
  const model = await lib.load(m.dir);
  threads = model.runtime.threads;
  results.machine.intraOpThreads = threads;
  log(`GPT-2 small shape (random weights), exits: lens@${m.lensLayer}, head@${m.headLayer} (hidden only, sparse); ORT ${ortInfo.version}, ${threads} intra-op threads`);

  if (!skip.has('gpt2')) {
    const variants = [
      { name: 'plain', options: { contrast: false } },
      { name: `acd-lens@${m.lensLayer}`, options: { amateurLayer: m.lensLayer, amateurPath: 'sparse' } },
      { name: `acd-head@${m.headLayer}`, options: { amateurLayer: m.headLayer, amateurPath: 'sparse' } },
    ];
    const sec = { model: 'gpt2-small shape, random weights', batches: {} };
    const rows = [];
    for (const B of [1, 8]) {
      const r = await alternate(model, variants, gptPrompts.slice(0, B), P.reps);
      const base = r.plain.median;
      for (const v of variants) r[v.name].overhead = base / r[v.name].median - 1;
      sec.batches[B] = r;
      for (const v of variants) {
        const x = r[v.name];
        rows.push([B, v.name, fmt(x.median, 1), x.tokensPerSecond.map((t) => fmt(t, 1)).join(', '), v.name === 'plain' ? '-' : pct(x.overhead), fmt(median(x.prefillMs), 1)]);
      }
    }
    results.sections.gpt2 = sec;
    const table = mdTable(['batch', 'variant', 'tokens/s (median)', 'runs', 'ACD overhead vs plain', 'prefill ms'], rows);
    md.push(`## 1. GPT-2 small shape: plain vs ACD greedy (generate API, ${P.promptTokens}-token prompts, ${P.maxNew} new tokens, median of ${P.reps})\n\nTarget: ACD overhead <= 5%.\n\n${table}`);
    log(`\n${table}\n`);
    flush();
  }

  // ---------------------------------------------------------------- 2. per step: outside Run; native vs JS API
  if (!skip.has('step')) {
    const manifest = model.manifest;
    const session = await ort.InferenceSession.create(path.join(m.dir, manifest.graph.file), {
      graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
    });
    const fetches = ['logits'];
    for (let i = 0; i < manifest.numLayers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
    const i64 = (a, shape) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), shape);
    const V = manifest.vocabSize, S = P.stepsPerContext;
    const sec = { steps: S, contexts: {} };
    const rows = [];
    for (const ctx of P.contexts) {
      const prompt = randomTokens(ctx - S, V, 7 + ctx);
      const seq = model.runtime.createSequence({ batch: 1, maxLength: ctx });
      let out = await seq.prefill([prompt]);
      const wall = [], run = [], step = [];
      for (let s = 0; s < S; s++) {
        const t0 = performance.now();
        out = await seq.step([argmaxRow(out.logits, 0, V)]);
        wall.push(performance.now() - t0);
        run.push(out.runMs);
        step.push(out.stepMs);
      }
      seq.dispose();
      const ids = [...prompt];
      const feeds = { input_ids: i64(ids, [1, ids.length]), attention_mask: i64(ids.map(() => 1), [1, ids.length]), position_ids: i64(ids.map((_, i) => i), [1, ids.length]) };
      for (let i = 0; i < manifest.numLayers; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, manifest.numKvHeads, 0, manifest.headDim]);
      let res = await session.run(feeds, fetches);
      const js = [];
      for (let s = 0; s < S; s++) {
        const t0 = performance.now();
        const next = argmaxRow(res.logits.data, 0, V);
        ids.push(next);
        const f = { input_ids: i64([next], [1, 1]), attention_mask: i64(ids.map(() => 1), [1, ids.length]), position_ids: i64([ids.length - 1], [1, 1]) };
        for (let i = 0; i < manifest.numLayers; i++) for (const k of ['key', 'value']) f[`past_key_values.${i}.${k}`] = res[`present.${i}.${k}`];
        res = await session.run(f, fetches);
        js.push(performance.now() - t0);
      }
      const w = median(wall), r = median(run), st = median(step), j = median(js);
      sec.contexts[ctx] = { wallMs: w, runMs: r, stepMs: st, outsideRunMs: w - r, outsideRunShare: (w - r) / w, nativeNotRunMs: st - r, jsApiMs: j, nativeOverJs: w / j, jsOverNative: j / w };
      rows.push([ctx, fmt(w), fmt(r), `${fmt(w - r, 3)} (${pct((w - r) / w)})`, fmt(st - r, 3), fmt(j), `${fmt(w / j, 3)} (JS ${fmt(j / w)}x slower)`]);
    }
    await session.release?.();
    results.sections.perStep = sec;
    const table = mdTable(['context', 'native step wall ms (JS)', 'in ORT Run ms', 'outside Run ms (share)', 'native, not Run ms', 'JS-API loop ms', 'native/JS'], rows);
    md.push(`## 2. Per step at batch 1 (GPT-2 small shape, plain, median of ${S} steps per context)\n\n${table}`);
    log(`${table}\n`);
    flush();
  }

  // ---------------------------------------------------------------- 3. event-loop delay during a long generation
  if (!skip.has('loop')) {
    const h = monitorEventLoopDelay({ resolution: 5 });
    let ticks = 0;
    const iv = setInterval(() => ticks++, 10);
    h.enable();
    const t0 = performance.now();
    const out = await lib.generate(model, gptPrompts[0], { strategy: 'greedy', maxNewTokens: P.loopTokens, minNewTokens: P.loopTokens, amateurLayer: m.lensLayer, amateurPath: 'sparse' });
    const wall = performance.now() - t0;
    h.disable();
    clearInterval(iv);
    const ms = (ns) => ns / 1e6;
    const sec = { generation: `GPT-2 small shape, ACD lens@${m.lensLayer}, batch 1, ${P.loopTokens} new tokens`, wallMs: wall, tokens: out.tokens.length, p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max), meanMs: ms(h.mean), intervalTicks: ticks, monitorResolutionMs: 5 };
    results.sections.eventLoop = sec;
    const table = mdTable(['generation', 'wall s', 'p50 ms', 'p99 ms', 'max ms', '10 ms timer ticks'], [[sec.generation, fmt(wall / 1000), fmt(sec.p50Ms), fmt(sec.p99Ms), fmt(sec.maxMs), ticks]]);
    md.push(`## 3. Event-loop delay while generating (monitorEventLoopDelay, resolution 5 ms; target p99 < 20 ms)\n\n${table}`);
    log(`${table}\n`);
    flush();
  }
  model.dispose();
}

// ---------------------------------------------------------------- 4. transformers.js peer on the plain graph
if (!skip.has('tjs')) {
  const pkg = process.env.AUTOCONTRAST_TRANSFORMERS_JS;
  const sec = {};
  results.sections.transformersJs = sec;
  if (!pkg || !fs.existsSync(path.join(pkg, 'package.json'))) {
    sec.skipped = pkg ? `AUTOCONTRAST_TRANSFORMERS_JS=${pkg} has no package.json` : 'AUTOCONTRAST_TRANSFORMERS_JS is not set';
    log(`peer skipped: ${sec.skipped}`);
    md.push(`## 4. transformers.js peer\n\npeer skipped: ${sec.skipped}`);
  } else {
    const m = await gpt2PlainHfModel({ log });
    const model = await lib.load(m.dir);
    threads ??= model.runtime.threads;
    const ours = {};
    for (const B of [1, 8]) ours[B] = (await alternate(model, [{ name: 'plain', options: { contrast: false } }], gptPrompts.slice(0, B), P.reps)).plain;
    model.dispose();
    log('transformers.js peer: running in a child process ...');
    const peer = await runChild(process.execPath, [path.join(HERE, 'peers', 'transformers_js.mjs'), pkg, m.root, tmpJob({ prompts: [gptPrompts.slice(0, 1), gptPrompts.slice(0, 8)], maxNew: P.maxNew, reps: P.reps, threads })], 15 * 60e3);
    sec.graph = 'plain GPT-2 small shape, no exits, logits at all positions (Hugging Face layout)';
    sec.ours = ours;
    sec.peer = peer;
    const rows = [];
    if (!peer.ok) {
      sec.error = peer.error;
      log(`transformers.js could not run: ${peer.error}`);
    }
    for (const [i, B] of [1, 8].entries()) {
      const p = peer.ok ? peer.runs[i] : null;
      const pm = p ? median(p.tokensPerSecond) : NaN;
      if (p) p.median = pm;
      const same = p ? sameTokens(ours[B].firstRow, p.firstRow) : undefined;
      sec[`speedupBatch${B}`] = ours[B].median / pm;
      rows.push([B, fmt(ours[B].median, 1), p ? fmt(pm, 1) : `failed: ${peer.error}`, p ? `${fmt(ours[B].median / pm)}x` : 'n/a', same === undefined ? 'n/a' : same ? 'yes' : 'no']);
    }
    const table = mdTable(['batch', 'autocontrast tokens/s', `transformers.js ${peer.version ?? ''} tokens/s`, 'ours / transformers.js', 'same greedy tokens (row 0)'], rows);
    md.push(`## 4. transformers.js peer: greedy on the same plain graph and weights (${P.maxNew} new tokens, median of ${P.reps})\n\n${table}`);
    log(`\n${table}\n`);
    flush();
  }
}

// ---------------------------------------------------------------- 5. SmolLM2-135M: plain vs ACD, PyTorch peer
if (!skip.has('smollm')) {
  const sec = {};
  results.sections.smollm2 = sec;
  let model;
  try {
    model = await lib.load('smollm2-135m');
  } catch (e) {
    sec.skipped = `could not load smollm2-135m (${e.message}); run \`npx autocontrast pull smollm2-135m\``;
    log(sec.skipped);
  }
  if (model) {
    threads ??= model.runtime.threads;
    results.machine.intraOpThreads ??= threads;
    const texts = [
      'The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable metal type, oil-based ink and a wooden press adapted from wine making.',
      'Photosynthesis is the process by which green plants and some other organisms use sunlight to synthesize foods from carbon dioxide and water, releasing oxygen as a by-product.',
      'To make a simple tomato sauce, warm olive oil in a pan, add chopped garlic and onion, cook until soft, then add crushed tomatoes, salt and a few basil leaves and simmer.',
      'The Pacific Ocean is the largest and deepest of the oceanic divisions of the Earth, extending from the Arctic Ocean in the north to the Southern Ocean in the south.',
      'In computer science, a hash table is a data structure that implements an associative array, mapping keys to values by computing an index into an array of buckets.',
      'Marathon runners train for months, gradually increasing their weekly distance, practising long slow runs, and learning how to take in water and energy during a race.',
      'The city council met on Tuesday evening to discuss the new budget, which includes funding for road repairs, public libraries, and an expansion of the bus network.',
      'Classical music of the Romantic era emphasised emotion and individual expression; composers such as Schubert, Chopin and Brahms expanded the forms they had inherited.',
    ];
    const prompts = texts.map((t) => {
      let ids = lib.encodePrompt(model, t, { chatTemplate: 'none', addSpecialTokens: false });
      while (ids.length < P.promptTokens) ids = ids.concat(ids);
      return ids.slice(0, P.promptTokens);
    });
    const L = 15;
    const variants = [
      { name: 'plain', options: { contrast: false } },
      { name: `acd-lens@${L}`, options: { amateurLayer: L, amateurPath: 'sparse', alpha: 0.1 } },
    ];
    sec.batches = {};
    for (const B of [1, 8]) {
      const r = await alternate(model, variants, prompts.slice(0, B), P.reps);
      r[variants[1].name].overhead = r.plain.median / r[variants[1].name].median - 1;
      sec.batches[B] = r;
    }
    model.dispose();
    md.push(`## 5. SmolLM2-135M (partial: PyTorch peer still running)\n\n${JSON.stringify(Object.fromEntries([1, 8].map((B) => [B, Object.fromEntries(Object.entries(sec.batches[B]).map(([k, v]) => [k, +v.median.toFixed(2)]))])))}`);
    flush();
    md.pop();
    // PyTorch peer
    const py = path.join(ROOT, 'parity', '.venv', 'bin', 'python');
    const gguf = path.join(ROOT, 'parity', '.work', 'gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf');
    let torch = null;
    if (skip.has('torch')) sec.torchSkipped = '--skip=torch';
    else if (!fs.existsSync(py)) sec.torchSkipped = `no ${path.relative(ROOT, py)} (create the parity venv)`;
    else if (!fs.existsSync(gguf)) sec.torchSkipped = `no ${path.relative(ROOT, gguf)} (run npm run parity -- --only=c)`;
    else {
      log('PyTorch peer: running parity/.venv python ...');
      torch = await runChild(py, [path.join(HERE, 'peers', 'torch_peer.py'), gguf, tmpJob({ prompts: [prompts.slice(0, 1), prompts.slice(0, 8)], maxNew: P.maxNew, reps: P.torchReps, threads, amateurLayer: L, alpha: 0.1 })], 20 * 60e3);
      sec.torch = torch;
      if (!torch.ok) sec.torchSkipped = `PyTorch peer failed: ${torch.error}`;
      else results.machine.torch = torch.torch, results.machine.transformers = torch.transformers;
    }
    if (sec.torchSkipped) log(`peer skipped: ${sec.torchSkipped}`);
    const rows = [];
    for (const B of [1, 8]) {
      for (const v of variants) {
        const x = sec.batches[B][v.name];
        const tv = torch?.ok ? torch.runs.find((r) => r.batch === B && r.variant === (v.name === 'plain' ? 'plain' : 'acd')) : null;
        const tm = tv ? median(tv.tokensPerSecond) : NaN;
        if (tv) { tv.median = tm; x.speedupVsTorch = x.median / tm; }
        rows.push([B, v.name, fmt(x.median, 1), x.tokensPerSecond.map((t) => fmt(t, 1)).join(', '), v.name === 'plain' ? '-' : pct(x.overhead), tv ? fmt(tm, 1) : 'n/a', tv ? `${fmt(x.median / tm)}x` : 'n/a', tv ? (sameTokens(x.firstRow, tv.firstRow) ? 'yes' : 'no') : 'n/a']);
      }
    }
    const table = mdTable(['batch', 'variant', 'autocontrast tokens/s', 'runs', 'ACD overhead', 'PyTorch tokens/s', 'speed-up vs PyTorch', 'same tokens as PyTorch (row 0)'], rows);
    // The pulled folder keeps Q4_0/Q4_1 matrices 4-bit (MatMulNBits, int8 activations) unless converted otherwise.
    const oursWeights = fs.readFileSync(path.join(model.dir, model.manifest.graph.file)).includes('MatMulNBits')
      ? '4-bit MatMulNBits weights, accuracy level 4'
      : 'float32 weights';
    const torchNote = torch?.ok
      ? `PyTorch ${torch.torch}, transformers ${torch.transformers}, ${torch.threads} threads, model from the Q4_1 GGUF dequantised to float32 (ours: the pulled folder, ${oursWeights}; token agreement is informative only). Reference contrast: ${torch.reference}`
      : `PyTorch peer: ${sec.torchSkipped}`;
    md.push(`## 5. SmolLM2-135M: plain vs ACD (exit ${L} of 30, logit lens, sparse), ${P.promptTokens}-token prompts, ${P.maxNew} new tokens, median of ${P.reps} (PyTorch: ${P.torchReps})\n\nTargets: ACD overhead <= 5%; faster than PyTorch. ${torchNote}\n\n${table}`);
    log(`\n${table}\n${torchNote}\n`);
  }
}

// ---------------------------------------------------------------- report
function flush(final = false) {
const mach = results.machine;
const head = [
  `# Decode benchmarks${quick ? ' (quick smoke run: not for comparison)' : ''}`,
  '',
  `Machine: ${mach.cpu}, ${mach.physicalCores ?? '?'} physical / ${mach.logicalCores} logical cores, ${mach.memoryGiB} GiB; ${mach.platform}; Node ${mach.node}; ORT ${mach.ort}; intra-op threads ${mach.intraOpThreads ?? '?'}` +
    `${mach.torch ? `; torch ${mach.torch}, transformers ${mach.transformers}` : ''}; load average at start ${mach.loadAverageAtStart.join(' ')}; ${mach.date}.`,
  '',
  'tokens/s = generated tokens after the first (which the prefill yields) per second of decode time, summed over the batch.',
];
const outDir = path.join(HERE, 'results');
fs.mkdirSync(outDir, { recursive: true });
const base = quick ? 'decode-quick' : 'decode';
fs.writeFileSync(path.join(outDir, `${base}.json`), JSON.stringify(results, null, 1));
fs.writeFileSync(path.join(outDir, `${base}.md`), `${[...head, '', ...md.join('\n\n').split('\n')].join('\n')}\n`);
if (final) log(`wrote bench/results/${base}.json and ${base}.md`);
}
flush(true);
