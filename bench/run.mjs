// Kernel microbenchmarks (benchmark.js): rows/s and ns per vocabulary element at V = 50257 for batches of 1, 8
// and 64, for each backend, against peers measured in the same run: a naive JavaScript implementation of the
// reference formulas, the TypeScript fallback, and a floor (one read pass plus V exponentials). Then the head-size
// sweep, the PyTorch peer and the per-call cost (bench/lib/heads.mjs). Writes JSON and a markdown table to
// bench/results/ with the CPU, its instruction sets and the load average.
// Usage: npm run bench [-- --quick] [-- --heads (only the sweep, the peer and the per-call cost)]
import Benchmark from 'benchmark';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import lib from '../test/helpers/lib.mjs';
import { normals } from '../test/helpers/random.mjs';
import { headReport, headSweep } from './lib/heads.mjs';
import { naiveAcd } from './lib/naive.mjs';

const quick = process.argv.includes('--quick');
// --heads: only the head-size sweep, the PyTorch peer and the per-call cost (written to kernel-heads.*).
const headsOnly = process.argv.includes('--heads');
const { acdLogProbs, acdLogProbsSparse, availableBackends, nativeInfo } = lib;
const V = 50257;
const BATCHES = [1, 8, 64];
const maxTime = quick ? 0.3 : 2;
const info = nativeInfo();
const native = info.path ? createRequire(import.meta.url)(info.path) : null;

const loadBefore = os.loadavg();
const results = [];
function run(name, group, rows, fn, extra = {}) {
  const b = new Benchmark(name, fn, { maxTime, minSamples: 5, initCount: 1 });
  b.run();
  if (b.error) throw b.error;
  const secPerOp = 1 / b.hz;
  const r = {
    name, group, rows, vocab: V,
    rowsPerSec: rows / secPerOp,
    usPerRow: (secPerOp / rows) * 1e6,
    nsPerElement: (secPerOp / (rows * V)) * 1e9,
    rme: b.stats.rme,
    samples: b.stats.sample.length,
    ...extra,
  };
  results.push(r);
  console.log(`${group.padEnd(10)} ${name.padEnd(34)} batch ${String(rows).padStart(2)}: ${r.usPerRow.toFixed(1).padStart(9)} us/row  ${r.nsPerElement.toFixed(3).padStart(7)} ns/elem  ±${r.rme.toFixed(1)}%`);
  return r;
}

const backends = availableBackends();
if (!headsOnly) {
for (const rows of BATCHES) {
  const E = normals(rows * V, 1, 3), A = normals(rows * V, 2, 3);
  const out = new Float32Array(rows * V);
  const opt = { vocabSize: V, out };
  for (const backend of backends) {
    if (backend === 'js' && rows === 64 && quick) continue;
    run(backend, 'kernel', rows, () => acdLogProbs(E, A, { ...opt, backend }));
    if (backend.startsWith('native') && rows > 1) run(`${backend} (1 thread)`, 'kernel', rows, () => acdLogProbs(E, A, { ...opt, backend, threads: 1 }));
  }
  run('naive JS (reference formulas)', 'peer', rows, () => {
    for (let r = 0; r < rows; r++) naiveAcd(E.subarray(r * V, (r + 1) * V), A.subarray(r * V, (r + 1) * V));
  });
  if (native) {
    for (const isa of native.isas()) run(`floor (${isa}: read + V exp)`, 'floor', rows, () => native.floorPass({ expert: E, dtype: 0, vocab: V, isa }));
  }
}

// Sparse amateur: a 1024-wide hidden state and a [50257 x 1024] head, against the dense kernel on precomputed
// amateur logits (the head's GEMV avoided).
{
  const d = 1024;
  const E = normals(V, 3, 3), A = normals(V, 4, 3), h = normals(d, 5), W = normals(V * d, 6, 0.05);
  const out = new Float32Array(V);
  for (const backend of backends.filter((b) => b !== 'js')) {
    run(`${backend} dense (precomputed amateur)`, 'sparse', 1, () => acdLogProbs(E, A, { out, backend }));
    run(`${backend} sparse (d=1024 head)`, 'sparse', 1, () => acdLogProbsSparse(E, h, W, { out, backend }));
  }
}
}

const sweep = headSweep({ lib, native, naiveAcd, quick });

// --- report ---
const by = (name, rows) => results.find((r) => r.name === name && r.rows === rows);
const best = backends[0];
const ratios = {};
for (const rows of BATCHES) {
  const k = by(best, rows), naive = by('naive JS (reference formulas)', rows), js = by('js', rows);
  const floor = native ? by(`floor (${native.isas()[0]}: read + V exp)`, rows) : undefined;
  const single = by(`${best} (1 thread)`, rows);
  ratios[`batch${rows}`] = {
    speedupVsNaive: naive && k ? k.rowsPerSec / naive.rowsPerSec : null,
    speedupVsFallback: js && k ? k.rowsPerSec / js.rowsPerSec : null,
    timesFloor: floor && k ? k.usPerRow / floor.usPerRow : null,
    threadScaling: single && k ? k.rowsPerSec / single.rowsPerSec : null,
  };
}
const sd = by(`${best} dense (precomputed amateur)`, 1), ss = by(`${best} sparse (d=1024 head)`, 1);
if (sd && ss) ratios.sparseOverDense = ss.usPerRow / sd.usPerRow;

function cpuFlags() {
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:\s*(.*)$/m)?.[1].split(/\s+/) ?? [];
    return flags.filter((x) => /^(avx|avx2|fma|f16c|avx512\w*|amx\w*)$/.test(x));
  } catch {
    return [];
  }
}
const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${process.platform}-${process.arch}`, node: process.version, backend: best,
  isas: native ? native.isas() : [], cpuFlags: cpuFlags(), date: new Date().toISOString(),
  loadAverage: { before: loadBefore.map((x) => +x.toFixed(2)), after: os.loadavg().map((x) => +x.toFixed(2)) },
};
const heads = headReport(sweep, machine.isas);
const f = (x, d = 1) => (x == null ? '–' : x.toFixed(d));
const header = [
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.platform}, Node ${machine.node} (${machine.date.slice(0, 10)})`,
  `Instruction sets: kernels ${machine.isas.join(', ') || 'none (no addon)'}; CPU flags ${machine.cpuFlags.join(' ') || 'unknown'}`,
  `Load average (1/5/15 min) before ${machine.loadAverage.before.join(' / ')}, after ${machine.loadAverage.after.join(' / ')} on ${machine.cores} cores: other processes shared the CPU when it is above 0.`,
];
const lines = headsOnly ? [...header] : [
  ...header,
  '',
  '| implementation | batch | µs/row | ns/element | rows/s |',
  '|---|---:|---:|---:|---:|',
  ...results.filter((r) => r.group !== 'sparse').map((r) => `| ${r.name} | ${r.rows} | ${f(r.usPerRow)} | ${f(r.nsPerElement, 3)} | ${f(r.rowsPerSec, 0)} |`),
  '',
  `| ratio (${best}) | batch 1 | batch 8 | batch 64 |`,
  '|---|---:|---:|---:|',
  `| speed-up over naive JS | ${BATCHES.map((b) => f(ratios[`batch${b}`].speedupVsNaive)).join(' | ')} |`,
  `| speed-up over TS fallback | ${BATCHES.map((b) => f(ratios[`batch${b}`].speedupVsFallback)).join(' | ')} |`,
  `| time / floor | ${BATCHES.map((b) => f(ratios[`batch${b}`].timesFloor, 2)).join(' | ')} |`,
  `| all threads / 1 thread | ${BATCHES.map((b) => f(ratios[`batch${b}`].threadScaling, 2)).join(' | ')} |`,
  '',
  '| sparse amateur (batch 1, d = 1024) | µs/row |',
  '|---|---:|',
  ...results.filter((r) => r.group === 'sparse').map((r) => `| ${r.name} | ${f(r.usPerRow)} |`),
  `| sparse / dense | ${f(ratios.sparseOverDense, 2)} |`,
];
lines.push(
  '',
  ...heads.lines,
  '',
  `Targets: within 3x of the floor ${heads.targets.floor3x ? 'met' : 'NOT met'} (one thread against the one-thread floor: ${heads.targets.floor3xOneThread ? 'met' : 'NOT met'}); >= 40x naive JS ${heads.targets.naive40x ? 'met' : 'NOT met'}; >= 10x PyTorch ${heads.targets.torch10x ? 'met' : 'NOT met'}; AVX-512 >= AVX2 ${heads.targets.avx512GeAvx2 ? 'met' : 'NOT met'}; prepared per-call < 3 µs ${heads.targets.perCallUnder3us ? 'met' : 'NOT met'}.`,
);
const table = lines.join('\n');
console.log(`\n${table}`);
const dir = join(new URL('.', import.meta.url).pathname, 'results');
mkdirSync(dir, { recursive: true });
const tag = `kernel${headsOnly ? '-heads' : ''}${quick ? '-quick' : ''}`;
writeFileSync(join(dir, `${tag}.json`), JSON.stringify({ machine, ratios, results, heads: sweep, headRatios: heads.ratios, targets: heads.targets }, null, 2) + '\n');
writeFileSync(join(dir, `${tag}.md`), `# Kernel microbenchmarks\n\n${table}\n`);
console.log(`\nwrote bench/results/${tag}.json and ${tag}.md`);
