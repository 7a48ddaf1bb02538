// Serving benchmark (not part of npm test), ratios within one run on SmolLM2-135M (the pulled folder):
//  1. One client through the server vs calling generate() directly (greedy, 64 new tokens): tokens/s.
//  2. Throughput with 16 concurrent streaming clients vs 1 client (greedy, 64 new tokens each), plain and with
//     contrast (ACD, the default middle exit): the continuous-batching target is >= 2.5x. Time to first token
//     p50/p99 under that load; the server's event-loop delay p99 during the 16-client runs (target < 20 ms).
//  3. Resident memory across 2,000 short requests (16 clients): growth after warm-up (target < 5%).
// The server runs in this process; the clients in a child process (bench/lib/serve-clients.mjs), so the
// event-loop delay is the server's own. Writes bench/results/serve.{json,md} (serve-quick.* with --quick).
// Usage: node bench/serve.mjs [--quick] [--no-spin] [--model=NAME|DIR] [--requests=N]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import lib from '../dist/index.js';
import serverPkg from '../dist/server/index.js';
import { fmt, machine, mdTable, median, pct, percentile } from './lib/decode-stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const quick = args.includes('--quick');
const P = {
  model: opt('model', 'smollm2-135m'),
  maxTokens: quick ? 16 : 64,
  clients: 16,
  rounds: quick ? 1 : 2,
  singleReps: quick ? 2 : 3,
  rssRequests: Number(opt('requests', quick ? 300 : 2000)),
  rssWarmup: quick ? 50 : 200,
  rssTokens: 8,
  // ONNX Runtime's pool threads spin between ops by default; --no-spin lets them sleep (what `serve` does).
  spin: !args.includes('--no-spin'),
};
const PROMPTS = [
  'The history of the city begins', 'In a small village by the sea, there lived', 'The best way to learn a language is',
  'Scientists have recently discovered that', 'Once upon a time, a young girl', 'The recipe calls for three eggs and',
  'On the first day of school,', 'The old lighthouse keeper looked at', 'Economists often argue that inflation',
  'My favourite place to visit is', 'The train left the station at', 'When the storm finally passed,',
  'A good night of sleep helps', 'The museum opened a new exhibit about', 'He opened the letter and read', 'The committee decided to',
];

const status = lib.runtime.runtimeStatus();
if (!status.available) {
  console.log(`serve benchmark skipped: runtime not built (${status.reason})`);
  process.exit(0);
}
let model;
try {
  model = await lib.load(P.model, P.spin ? {} : { allowSpinning: false });
} catch (e) {
  console.log(`serve benchmark skipped: could not load ${P.model} (${e.message}); run \`npx autocontrast pull smollm2-135m\``);
  process.exit(0);
}
const results = { quick, params: P, machine: machine({ ort: lib.runtime.ortVersion().version }), sections: {} };
const log = (...a) => console.log(...a);
log(`model ${P.model}: ${model.numLayers} layers, vocab ${model.vocabSize}; machine ${results.machine.cpu}, load ${results.machine.loadAverageAtStart}`);

const server = serverPkg.createServer({ models: { m: model }, maxBatch: P.clients, maxQueue: 4096 });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;

function clients(cfg) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'lib', 'serve-clients.mjs'), JSON.stringify({ url, model: 'm', prompts: PROMPTS, ...cfg })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`clients exited ${code}`))));
  });
}

const CONTRAST = { plain: { contrast: false }, acd: {} };
const libOptions = { plain: { contrast: false }, acd: {} };

// 1. one client through the server vs generate() directly
const single = {};
for (const [name, fields] of Object.entries(CONTRAST)) {
  const direct = [], served = [];
  await lib.generate(model, PROMPTS[0], { ...libOptions[name], maxNewTokens: 8 }); // warm-up
  await clients({ concurrency: 1, requests: 1, maxTokens: 8, fields });
  for (let rep = 0; rep < P.singleReps; rep++) {
    const t0 = performance.now();
    const g = await lib.generate(model, PROMPTS[rep], { ...libOptions[name], maxNewTokens: P.maxTokens, minNewTokens: P.maxTokens });
    direct.push(g.tokens.length / ((performance.now() - t0) / 1000));
    const c = await clients({ concurrency: 1, requests: 1, maxTokens: P.maxTokens, fields, prompts: [PROMPTS[rep]] });
    served.push(c.results[0].tokens / (c.results[0].wallMs / 1000));
  }
  single[name] = { generateTokensPerSecond: median(direct), serverTokensPerSecond: median(served), ratio: median(served) / median(direct) };
  log(`single ${name}: generate ${fmt(median(direct), 1)} tok/s, server ${fmt(median(served), 1)} tok/s (${pct(single[name].ratio)})`);
}
results.sections.single = single;

// The event-loop delay of this process while idle, under the same machine load: the floor that other jobs'
// competition for the cores puts under the figures measured during the 16-client runs.
const idleLoop = monitorEventLoopDelay({ resolution: 5 });
idleLoop.enable();
await new Promise((r) => setTimeout(r, quick ? 2000 : 5000));
idleLoop.disable();
results.sections.idleEventLoop = { p99Ms: idleLoop.percentile(99) / 1e6, maxMs: idleLoop.max / 1e6 };
log(`idle event loop p99 ${fmt(results.sections.idleEventLoop.p99Ms, 1)} ms (machine load ${os.loadavg()[0].toFixed(1)})`);

// 2. 16 concurrent streaming clients vs 1
const load = {};
for (const [name, fields] of Object.entries(CONTRAST)) {
  const one = await clients({ concurrency: 1, requests: P.rounds * 2, maxTokens: P.maxTokens, fields });
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const many = await clients({ concurrency: P.clients, requests: P.rounds * P.clients, maxTokens: P.maxTokens, fields });
  h.disable();
  const tps = (r) => r.results.reduce((a, x) => a + x.tokens, 0) / (r.wallMs / 1000);
  const ttft = many.results.map((x) => x.ttftMs);
  load[name] = {
    oneClientTokensPerSecond: tps(one),
    clientsTokensPerSecond: tps(many),
    speedup: tps(many) / tps(one),
    ttftP50Ms: percentile(ttft, 50),
    ttftP99Ms: percentile(ttft, 99),
    oneClientTtftMs: median(one.results.map((x) => x.ttftMs)),
    eventLoopP99Ms: h.percentile(99) / 1e6,
    eventLoopMaxMs: h.max / 1e6,
    tokensPerRequest: median(many.results.map((x) => x.tokens)),
  };
  log(`${P.clients} clients ${name}: ${fmt(tps(many), 1)} tok/s vs 1 client ${fmt(tps(one), 1)} tok/s = ${fmt(load[name].speedup)}x; TTFT p50 ${fmt(load[name].ttftP50Ms, 0)} ms p99 ${fmt(load[name].ttftP99Ms, 0)} ms; event loop p99 ${fmt(load[name].eventLoopP99Ms, 1)} ms`);
}
results.sections.load = load;

// 3. resident memory across many short requests
{
  const samples = [];
  const timer = setInterval(() => samples.push(process.memoryUsage().rss), 250);
  await clients({ concurrency: P.clients, requests: P.rssWarmup, maxTokens: P.rssTokens, fields: {} });
  global.gc?.();
  const afterWarmup = process.memoryUsage().rss;
  const t0 = performance.now();
  const run = await clients({ concurrency: P.clients, requests: P.rssRequests, maxTokens: P.rssTokens, fields: {} });
  global.gc?.();
  const end = process.memoryUsage().rss;
  clearInterval(timer);
  results.sections.memory = {
    requests: P.rssRequests, warmupRequests: P.rssWarmup, tokensPerRequest: P.rssTokens,
    rssAfterWarmupMiB: afterWarmup / 2 ** 20, rssEndMiB: end / 2 ** 20, rssMaxMiB: Math.max(...samples) / 2 ** 20,
    growth: end / afterWarmup - 1, seconds: (performance.now() - t0) / 1000, failed: run.results.filter((x) => x.tokens !== P.rssTokens).length,
  };
  log(`memory: RSS ${fmt(afterWarmup / 2 ** 20, 0)} MiB after ${P.rssWarmup} requests, ${fmt(end / 2 ** 20, 0)} MiB after ${P.rssRequests} more (${pct(results.sections.memory.growth)})`);
}
await server.shutdown(5000);
model.dispose();
results.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));

const s = results.sections;
const md = [
  `# Serving benchmark (${P.model}${quick ? ', quick' : ''})`,
  '',
  `Machine: ${results.machine.cpu}, ${results.machine.physicalCores ?? '?'} physical cores, Node ${results.machine.node}, ONNX Runtime ${results.machine.ort}; load average ${results.machine.loadAverageAtStart.join(' / ')} at the start, ${results.machine.loadAverageAtEnd.join(' / ')} at the end (other jobs shared the cores: compare ratios within this run, not absolute figures). ${results.machine.date}.`,
  '',
  `ONNX Runtime pool threads ${P.spin ? 'spinning between ops (its default)' : 'sleeping between ops (--no-spin)'}. Greedy, ${P.maxTokens} new tokens per request (min_tokens = max_tokens), streaming; server and clients in separate processes on the same machine.`,
  '',
  mdTable(['', 'plain', 'ACD (middle exit)', 'target'], [
    ['generate() directly, tokens/s', fmt(s.single.plain.generateTokensPerSecond, 1), fmt(s.single.acd.generateTokensPerSecond, 1), ''],
    ['1 client through the server, tokens/s', fmt(s.single.plain.serverTokensPerSecond, 1), fmt(s.single.acd.serverTokensPerSecond, 1), ''],
    ['server / generate()', pct(s.single.plain.ratio), pct(s.single.acd.ratio), '>= 95%'],
    [`${P.clients} clients, tokens/s (all clients)`, fmt(s.load.plain.clientsTokensPerSecond, 1), fmt(s.load.acd.clientsTokensPerSecond, 1), ''],
    ['1 client, tokens/s', fmt(s.load.plain.oneClientTokensPerSecond, 1), fmt(s.load.acd.oneClientTokensPerSecond, 1), ''],
    [`${P.clients} clients / 1 client`, `${fmt(s.load.plain.speedup)}x`, `${fmt(s.load.acd.speedup)}x`, '>= 2.5x'],
    [`time to first token p50 / p99 (${P.clients} clients), ms`, `${fmt(s.load.plain.ttftP50Ms, 0)} / ${fmt(s.load.plain.ttftP99Ms, 0)}`, `${fmt(s.load.acd.ttftP50Ms, 0)} / ${fmt(s.load.acd.ttftP99Ms, 0)}`, ''],
    ['time to first token, 1 client, ms', fmt(s.load.plain.oneClientTtftMs, 0), fmt(s.load.acd.oneClientTtftMs, 0), ''],
    [`server event-loop delay p99 / max (${P.clients} clients), ms`, `${fmt(s.load.plain.eventLoopP99Ms, 1)} / ${fmt(s.load.plain.eventLoopMaxMs, 1)}`, `${fmt(s.load.acd.eventLoopP99Ms, 1)} / ${fmt(s.load.acd.eventLoopMaxMs, 1)}`, '< 20 ms'],
    ['same process idle (no requests), event-loop delay p99 / max, ms', `${fmt(s.idleEventLoop.p99Ms, 1)} / ${fmt(s.idleEventLoop.maxMs, 1)}`, '', ''],
  ]),
  '',
  `Resident memory across ${s.memory.requests} requests of ${s.memory.tokensPerRequest} tokens (${P.clients} clients, ACD) after ${s.memory.warmupRequests} warm-up requests: ${fmt(s.memory.rssAfterWarmupMiB, 0)} MiB -> ${fmt(s.memory.rssEndMiB, 0)} MiB (${pct(s.memory.growth)}; max ${fmt(s.memory.rssMaxMiB, 0)} MiB; target < 5% growth), ${s.memory.failed} short answers, ${fmt(s.memory.seconds, 0)} s.`,
  '',
];
const outDir = path.join(HERE, 'results');
fs.mkdirSync(outDir, { recursive: true });
const base = quick ? 'serve-quick' : 'serve';
fs.writeFileSync(path.join(outDir, `${base}.json`), JSON.stringify(results, null, 2) + '\n');
fs.writeFileSync(path.join(outDir, `${base}.md`), md.join('\n'));
log(`wrote bench/results/${base}.{json,md}`);
