// One fit for bench/fit-exits.mjs, in its own process: reads the job (fitExits options) from a JSON file, prints
// the result (without parameters) and the process's peak RSS as one JSON line, and removes the written folder.
import fs from 'node:fs';
import train from '../../dist/train/index.js';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let last = 0;
const r = await train.fitExits({
  ...job,
  onProgress: (p) => {
    if (Date.now() - last < 15000) return;
    last = Date.now();
    process.stderr.write(`  ${p.phase} ${p.done}/${p.total}${p.loss !== undefined ? ` loss ${p.loss.toFixed(3)}` : ''} ${p.tokensPerSecond.toFixed(0)} tok/s ETA ${p.etaSeconds.toFixed(0)} s\n`);
  },
});
fs.rmSync(r.dir, { recursive: true, force: true });
const { params, manifest, ...rest } = r;
console.log(JSON.stringify({ ...rest, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
