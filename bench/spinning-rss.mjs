// Resident memory of allowSpinning 'auto' (not part of npm test): each case in its own process, RSS after loading
// a model folder and generating 16 tokens at batch 1 (so that 'auto' has created its spinning twin), against one
// session ('off') and two independent sessions ('off' + 'on', what the twin would cost without any sharing).
// Usage: node bench/spinning-rss.mjs MODEL_DIR [--out=NAME]   (writes bench/results/NAME.json, default spinning-rss)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const [dir, ...rest] = process.argv.slice(2);
if (process.env.AC_RSS_CASE) {
  const lib = (await import('../dist/index.js')).default;
  const rssMiB = () => +(process.memoryUsage.rss() / 2 ** 20).toFixed(1);
  const before = rssMiB();
  const loads = process.env.AC_RSS_CASE.split('+').map((w) => ({ off: false, on: true, auto: 'auto' })[w]);
  const models = [];
  for (const allowSpinning of loads) models.push(await lib.load(dir, { skipValidation: true, allowSpinning }));
  const loaded = rssMiB();
  for (const m of models) await lib.generate(m, 'The history of the printing press', { maxNewTokens: 16, contrast: false });
  const after = rssMiB();
  const stats = models.map((m) => m.runtime.spinningStats());
  console.log(JSON.stringify({ before, loaded, after, twin: stats.some((s) => s.twin) }));
  process.exit(0);
}
if (!dir) {
  console.error('usage: node bench/spinning-rss.mjs MODEL_DIR [--out=NAME]');
  process.exit(2);
}
const out = rest.find((a) => a.startsWith('--out='))?.slice(6) ?? 'spinning-rss';
const res = {};
for (const c of ['off', 'auto', 'off+on']) {
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const r = execFileSync(process.execPath, [fileURLToPath(import.meta.url), dir], { env: { ...process.env, AC_RSS_CASE: c }, encoding: 'utf8' });
    runs.push(JSON.parse(r.trim().split('\n').at(-1)));
  }
  res[c] = runs;
  console.log(c, JSON.stringify(runs));
}
fs.writeFileSync(path.join(HERE, 'results', `${out}.json`), `${JSON.stringify({ model: dir, date: new Date().toISOString(), results: res }, null, 2)}\n`);
