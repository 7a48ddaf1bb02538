// Small helpers for the decode benchmark: medians, machine description, markdown tables.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export const median = (a) => {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const percentile = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

export function argmaxRow(data, row, width) {
  let best = 0, bv = -Infinity;
  const off = row * width;
  for (let i = 0; i < width; i++) {
    const v = data[off + i];
    if (v > bv) { bv = v; best = i; }
  }
  return best;
}

/** Deterministic pseudo-random token ids (mulberry32). */
export function randomTokens(n, vocab, seed) {
  let s = seed >>> 0;
  const out = [];
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push((((t ^ (t >>> 14)) >>> 0) % (vocab - 2)) + 1);
  }
  return out;
}

/** CPU model, cores, load, versions. */
export function machine(extra = {}) {
  const cpus = os.cpus();
  let physical;
  try {
    const lines = execFileSync('lscpu', ['-p=core,socket'], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.startsWith('#'));
    physical = new Set(lines).size;
  } catch {
    physical = undefined;
  }
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    logicalCores: cpus.length,
    physicalCores: physical,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    date: new Date().toISOString(),
    ...extra,
  };
}

/** A markdown table from a header row and rows of cells. */
export function mdTable(header, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c)).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(d));
export const pct = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(d)}%`);
