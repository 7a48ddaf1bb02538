// Peer for bench/decode-peers.mjs: node-llama-cpp (llama.cpp's prebuilt CPU binary) decoding the same GGUF from the
// same prompt token ids, greedy. Not a project dependency: install it in a scratch folder outside the repository
// (`NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm i node-llama-cpp@3.21.1`) and pass that folder.
// Usage: node node_llama_cpp.mjs SCRATCH_DIR GGUF JOB.json  ->  one JSON line on stdout
// JOB: { prompts: number[][], batch, maxNew, reps, threads }
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [scratch, gguf, jobFile] = process.argv.slice(2);
const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
const entry = path.join(scratch, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
const { getLlama } = await import(pathToFileURL(entry).href);
const version = JSON.parse(fs.readFileSync(path.join(scratch, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')).version;
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: gguf });
const runs = [];
for (const B of job.batches) {
  const context = await model.createContext({ contextSize: 512, sequences: B, threads: job.threads, batchSize: 512 });
  const rates = [], prefill = [];
  let firstRow;
  for (let rep = 0; rep <= job.reps; rep++) {
    const seqs = Array.from({ length: B }, () => context.getSequence());
    // decode time only: from each row's first generated token to its last (prefill excluded)
    let start = 0;
    const t0 = performance.now();
    const rows = await Promise.all(seqs.map(async (seq, r) => {
      const out = [];
      for await (const t of seq.evaluate(job.prompts[r % job.prompts.length], { temperature: 0 })) {
        if (out.length === 0 && start === 0) start = performance.now();
        out.push(t);
        if (out.length >= job.maxNew) break;
      }
      return out;
    }));
    const ms = performance.now() - start;
    if (rep > 0 || job.reps === 0) {
      rates.push(((job.maxNew - 1) * B) / (ms / 1000));
      prefill.push(start - t0);  // the prompts to the first generated token
    }
    firstRow = rows[0];
    for (const s of seqs) s.dispose();
  }
  runs.push({ batch: B, tokensPerSecond: rates, prefillMs: prefill, firstRow });
  await context.dispose();
}
await model.dispose();
process.stdout.write(`${JSON.stringify({ ok: true, version, runs })}\n`);
