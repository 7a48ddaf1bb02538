// The head-size sweep and the per-call cost of the kernel benchmark (issue 13). Each case times every native
// backend this CPU has, the floor (one read pass plus V exponentials, per instruction set), the naive JavaScript
// peer, the TypeScript fallback and plain PyTorch on the same rows, with one timing method for all: repeated calls
// for at least `minTime` seconds, reporting the fastest call (robust when other processes share the cores) and
// the median.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { normals, rng } from '../../test/helpers/random.mjs';

/** Times fn: at least minReps calls and minTime seconds; returns { min, median } in microseconds per call. */
export function measure(fn, minTime, minReps = 5) {
  fn();
  const times = [];
  const end = performance.now() + minTime * 1e3;
  while (times.length < minReps || performance.now() < end) {
    const t = performance.now();
    fn();
    times.push((performance.now() - t) * 1e3);
  }
  times.sort((a, b) => a - b);
  return { min: times[0], median: times[times.length >> 1], reps: times.length };
}

/** Per-call cost of a cheap call: the fastest of many short batches of `inner` calls (short, so that a batch is
 * rarely interrupted by other processes), in microseconds per call. */
export function measureSmall(fn, minTime, inner = 100) {
  for (let i = 0; i < inner; i++) fn();
  let best = Infinity;
  const end = performance.now() + minTime * 1e3;
  let batches = 0;
  while (batches < 20 || performance.now() < end) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) fn();
    best = Math.min(best, ((performance.now() - t) * 1e3) / inner);
    batches++;
  }
  return best;
}

// A row of V logits whose plausibility head at alpha = 0.1 holds exactly h tokens: h values in [top - 2, top]
// (within ln 10 = 2.30 of the max), the others in [top - 14, top - 2.6], at random positions.
function shapedRow(V, h, seed) {
  const r = rng(seed);
  const pos = new Int32Array(V);
  for (let i = 0; i < V; i++) pos[i] = i;
  for (let i = V - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = pos[i];
    pos[i] = pos[j];
    pos[j] = t;
  }
  const z = new Float32Array(V);
  for (let j = 0; j < V; j++) z[pos[j]] = j === 0 ? 4 : j < h ? 2 + 2 * r() : -10 + 11.4 * r();
  return z;
}

function uniformRow(V, seed) {
  const r = rng(seed);
  const z = new Float32Array(V);
  for (let i = 0; i < V; i++) z[i] = -4 + 8 * r();
  return z;
}

/** The sweep's cases: head about 1, 20, 200, 2000, 20000 (shaped), V (alpha = 0), and uniform logits in [-4, 4]. */
export function headCases(V) {
  const cases = [1, 20, 200, 2000, 20000].map((h) => ({ name: `head ${h}`, alpha: 0.1, row: (s) => shapedRow(V, h, s) }));
  cases.push({ name: 'head V (alpha 0)', alpha: 0, row: (s) => normals(V, s, 3) });
  cases.push({ name: 'uniform [-4, 4]', alpha: 0.1, row: (s) => uniformRow(V, s) });
  return cases;
}

function stack(rows, V, make, seed) {
  const out = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++) out.set(make(seed + 101 * r), r * V);
  return out;
}

function torchPeer(jobs, V, threads, minTime) {
  const dir = mkdtempSync(join(os.tmpdir(), 'ac-bench-'));
  try {
    const cases = jobs.map((j, i) => {
      const e = join(dir, `e${i}.f32`), a = join(dir, `a${i}.f32`);
      writeFileSync(e, new Uint8Array(j.E.buffer, j.E.byteOffset, j.E.byteLength));
      writeFileSync(a, new Uint8Array(j.A.buffer, j.A.byteOffset, j.A.byteLength));
      return { name: j.name, rows: j.rows, alpha: j.alpha, expert: e, amateur: a };
    });
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify({ threads, vocab: V, minSeconds: minTime, minReps: 30, cases }));
    const py = process.env.PYTHON ?? 'python3';
    const peer = new URL('../peers/torch_kernel_peer.py', import.meta.url).pathname;
    const r = spawnSync(py, [peer, jobFile], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const line = (r.stdout ?? '').trim().split('\n').pop();
    try {
      return JSON.parse(line);
    } catch {
      return { ok: false, error: `${py} ${peer}: ${(r.stderr || r.error?.message || 'no output').trim().split('\n').pop()}` };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the sweep. lib: the package; native: the raw addon (for floorPass) or null; naiveAcd: the naive peer.
 * Returns { rows: [...per case and batch...], torch: {...}, perCall: {...} }.
 */
export function headSweep({ lib, native, naiveAcd, quick, log = console.log }) {
  const { acdLogProbs, availableBackends, createContrast } = lib;
  const V = 50257;
  const minTime = quick ? 0.15 : 0.6;
  const backends = availableBackends();
  const isas = native ? native.isas() : [];
  const out = [];
  const torchJobs = [];
  for (const rows of [1, 8]) {
    for (const c of headCases(V)) {
      const E = stack(rows, V, c.row, 7), A = stack(rows, V, (s) => normals(V, s, 3), 9000);
      const buf = new Float32Array(rows * V);
      const rec = { case: c.name, rows, alpha: c.alpha, kernel: {}, floor: {} };
      const hs = new Int32Array(rows);
      acdLogProbs(E, A, { vocabSize: V, alpha: c.alpha, out: buf, headSize: hs });
      rec.headSize = Math.round(hs.reduce((s, x) => s + x, 0) / rows);
      for (const b of backends) {
        if (b === 'js' && quick && rows > 1) continue;
        const t = measure(() => acdLogProbs(E, A, { vocabSize: V, alpha: c.alpha, out: buf, backend: b }), minTime);
        rec.kernel[b] = { usPerRow: t.min / rows, medianUsPerRow: t.median / rows };
        // The floor runs on one thread: the kernel on one thread too, for a like-for-like ratio.
        if (rows > 1 && b.startsWith('native')) {
          const t1 = measure(() => acdLogProbs(E, A, { vocabSize: V, alpha: c.alpha, out: buf, backend: b, threads: 1 }), minTime);
          rec.kernel[b].oneThreadUsPerRow = t1.min / rows;
        }
      }
      // The same rows through the pre-validated form (options checked once): the kernel without the plain
      // function's fixed cost of about 5 µs per call.
      const bestNative = backends.find((b) => b.startsWith('native'));
      if (bestNative) {
        const prep = createContrast({ vocabSize: V, rows, alpha: c.alpha, backend: bestNative });
        const t = measure(() => prep.run(E, A, buf), minTime);
        rec.prepared = { backend: bestNative, usPerRow: t.min / rows, medianUsPerRow: t.median / rows };
      }
      for (const isa of isas) {
        const t = measure(() => native.floorPass({ expert: E, dtype: 0, vocab: V, isa }), minTime);
        rec.floor[isa] = { usPerRow: t.min / rows, medianUsPerRow: t.median / rows };
      }
      const tn = measure(() => {
        for (let r = 0; r < rows; r++) naiveAcd(E.subarray(r * V, (r + 1) * V), A.subarray(r * V, (r + 1) * V), c.alpha);
      }, quick ? minTime : minTime * 2, 3);
      rec.naive = { usPerRow: tn.min / rows, medianUsPerRow: tn.median / rows };
      torchJobs.push({ name: c.name, rows, alpha: c.alpha, E, A });
      out.push(rec);
      const k = Object.entries(rec.kernel).map(([b, v]) => `${b} ${v.usPerRow.toFixed(1)}`).join(', ');
      log(`heads     ${c.name.padEnd(18)} batch ${rows}: head ${rec.headSize}, µs/row ${k}; floor ${isas.map((i) => `${i} ${rec.floor[i].usPerRow.toFixed(1)}`).join(', ')}; naive ${rec.naive.usPerRow.toFixed(0)}`);
    }
  }
  const torch = torchPeer(torchJobs, V, 2, quick ? 0.3 : 1.0);
  const torch1 = torch.ok ? torchPeer(torchJobs, V, 1, quick ? 0.3 : 1.0) : torch;
  if (torch.ok) {
    for (const t of torch.results) {
      const rec = out.find((r) => r.case === t.name && r.rows === t.rows);
      if (rec) rec.torch = { usPerRow: t.usPerRow, oneThreadUsPerRow: torch1.results?.find((u) => u.name === t.name && u.rows === t.rows)?.usPerRow };
    }
    log(`heads     torch ${torch.torch} (${torch.threads} threads, and 1) measured`);
  } else {
    log(`heads     PyTorch peer skipped: ${torch.error}`);
  }

  // Per-call cost at V = 16 (one row): the plain function with and without out, and the prepared form.
  const V16 = 16;
  const e16 = normals(V16, 31, 3), a16 = normals(V16, 32, 3), o16 = new Float32Array(V16);
  const perCall = {};
  for (const b of backends) {
    const c = createContrast({ vocabSize: V16, backend: b });
    perCall[b] = {
      plainWithOut: measureSmall(() => acdLogProbs(e16, a16, { out: o16, backend: b }), minTime),
      plainAllocating: measureSmall(() => acdLogProbs(e16, a16, { backend: b }), minTime),
      preparedWithOut: measureSmall(() => c.run(e16, a16, o16), minTime),
      prepared: measureSmall(() => c.run(e16, a16), minTime),
    };
  }
  // What allocating the output costs at V = 50257 (one row, head 20): plain call without out minus with out.
  const e1 = shapedRow(V, 20, 41), a1 = normals(V, 42, 3), o1 = new Float32Array(V);
  const withOut = measure(() => acdLogProbs(e1, a1, { out: o1 }), minTime);
  const alloc = measure(() => acdLogProbs(e1, a1), minTime);
  const prep = createContrast({ vocabSize: V });
  const prepOwn = measure(() => prep.run(e1, a1), minTime);
  const allocation = { withOut: withOut.min, withoutOut: alloc.min, withOutMedian: withOut.median, withoutOutMedian: alloc.median, preparedOwnBuffer: prepOwn.min };
  log(`per-call  V=16: ${Object.entries(perCall).map(([b, v]) => `${b} plain ${v.plainWithOut.toFixed(2)} µs, prepared ${v.preparedWithOut.toFixed(2)} µs`).join('; ')}`);
  log(`per-call  V=50257 head 20: with out ${withOut.min.toFixed(1)} µs, without out ${alloc.min.toFixed(1)} µs (median ${withOut.median.toFixed(1)} / ${alloc.median.toFixed(1)})`);
  return { vocab: V, cases: out, torch: torch.ok ? { version: torch.torch, threads: torch.threads } : { error: torch.error }, perCall, allocation };
}

/** Markdown tables and the target ratios of a sweep. */
export function headReport(sweep, isas) {
  const f = (x, d = 1) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const best = isas[0];
  const nat = isas.map((i) => `native-${i}`);
  const lines = [
    `### Head-size sweep (V = ${sweep.vocab}, µs per row, fastest call; alpha 0.1 unless noted)`,
    '',
    `| case | batch | head | ${nat.join(' | ')} | createContrast (${nat[0]}) | js | floor (${best}) | naive JS | PyTorch 2 threads (1 thread) | ×floor (1 thread) | ×floor, createContrast | naive / native | torch / native | avx512 / avx2 |`,
    `|---|---:|---:|${nat.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  const targets = { floor3x: true, floor3xOneThread: true, naive40x: true, torch10x: true, avx512GeAvx2: true };
  const ratios = [];
  for (const r of sweep.cases) {
    const k = r.kernel[`native-${best}`]?.usPerRow, fl = r.floor[best]?.usPerRow;
    const k1 = r.kernel[`native-${best}`]?.oneThreadUsPerRow;
    const timesFloor = k / fl, timesFloor1 = k1 ? k1 / fl : null, overNaive = r.naive.usPerRow / k;
    const overTorch = r.torch ? r.torch.usPerRow / k : null;
    const a512 = r.kernel['native-avx512']?.usPerRow, a2 = r.kernel['native-avx2']?.usPerRow;
    const avxRatio = a512 && a2 ? a2 / a512 : null;  // > 1: AVX-512 faster
    const timesFloorPrepared = r.prepared ? r.prepared.usPerRow / fl : null;
    if (!(timesFloor <= 3)) targets.floor3x = false;
    if (!((timesFloor1 ?? timesFloor) <= 3)) targets.floor3xOneThread = false;
    if (!(overNaive >= 40)) targets.naive40x = false;
    if (overTorch == null || !(overTorch >= 10)) targets.torch10x = false;
    if (avxRatio != null && !(avxRatio >= 1)) targets.avx512GeAvx2 = false;
    ratios.push({ case: r.case, rows: r.rows, head: r.headSize, timesFloor, timesFloorOneThread: timesFloor1, timesFloorPrepared, overNaive, overTorch, avx2OverAvx512: avxRatio });
    const one = (b) => (r.kernel[b]?.oneThreadUsPerRow ? ` (${f(r.kernel[b].oneThreadUsPerRow)})` : '');
    lines.push(`| ${r.case} | ${r.rows} | ${r.headSize} | ${nat.map((b) => f(r.kernel[b]?.usPerRow) + one(b)).join(' | ')} | ${f(r.prepared?.usPerRow)} | ${f(r.kernel.js?.usPerRow, 0)} | ${f(fl)} | ${f(r.naive.usPerRow, 0)} | ${f(r.torch?.usPerRow)} (${f(r.torch?.oneThreadUsPerRow)}) | ${f(timesFloor, 2)}${timesFloor1 ? ` (${f(timesFloor1, 2)})` : ''} | ${f(timesFloorPrepared, 2)} | ${f(overNaive, 0)} | ${f(overTorch, 1)} | ${f(avxRatio, 2)} |`);
  }
  lines.push('', 'Batch 8: native times with the row pool (both cores), in brackets on one thread; the floor runs on one thread. createContrast: the pre-validated form on the same rows (row pool at batch 8). ×floor: native time / floor (target <= 3; in brackets one thread against one thread); naive / native (target >= 40); torch / native: PyTorch 2 threads / native (target >= 10); avx512 / avx2: AVX2 time / AVX-512 time (>= 1: AVX-512 at least as fast).');
  if (sweep.torch.error) lines.push('', `PyTorch peer not run: ${sweep.torch.error}`);
  else lines.push('', `PyTorch ${sweep.torch.version}, ${sweep.torch.threads} threads: log_softmax of both rows, plausibility mask, masked log_softmax of the log-ratio plus the head mass.`);
  lines.push('', '### Per-call cost (V = 16, one row, µs per call)', '', '| backend | plain, out given | plain, allocating | createContrast run(out) | createContrast run() |', '|---|---:|---:|---:|---:|');
  for (const [b, v] of Object.entries(sweep.perCall)) lines.push(`| ${b} | ${f(v.plainWithOut, 2)} | ${f(v.plainAllocating, 2)} | ${f(v.preparedWithOut, 2)} | ${f(v.prepared, 2)} |`);
  const al = sweep.allocation;
  lines.push('', `Output allocation at V = ${sweep.vocab} (head 20, one row): with out ${f(al.withOut)} µs, without out ${f(al.withoutOut)} µs (medians ${f(al.withOutMedian)} / ${f(al.withoutOutMedian)}); createContrast run() with its own buffer ${f(al.preparedOwnBuffer)} µs.`);
  const pc = sweep.perCall[`native-${best}`];
  targets.perCallUnder3us = pc ? pc.preparedWithOut < 3 : false;
  return { lines, targets, ratios };
}
