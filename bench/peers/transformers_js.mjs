// Peer: transformers.js greedy generation on a Hugging Face-layout folder (config.json, tokenizer.json,
// generation_config.json, onnx/model.onnx). Runs in its own process (it brings its own onnxruntime-node).
// Usage: node transformers_js.mjs PKG_DIR MODEL_ROOT JOB_JSON   (JOB: {prompts: number[][][], maxNew, reps, threads})
// Prints one JSON line: {ok, version, runs: [{batch, tokensPerSecond[], wallMs[]}], error?}
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkgDir, root, jobFile] = process.argv.slice(2);
const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
const out = { ok: false };
try {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  out.version = pkg.version;
  const entry = ['dist/transformers.node.mjs', 'dist/transformers.mjs'].map((f) => path.join(pkgDir, f)).find((f) => fs.existsSync(f));
  if (!entry) throw new Error(`no Node ESM entry in ${pkgDir}/dist`);
  const tjs = await import(pathToFileURL(entry).href);
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = path.dirname(root) + path.sep;
  const t0 = performance.now();
  const model = await tjs.AutoModelForCausalLM.from_pretrained(path.basename(root), {
    dtype: 'fp32', device: 'cpu', local_files_only: true,
    session_options: { intraOpNumThreads: job.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' },
  });
  out.loadMs = performance.now() - t0;
  out.runs = [];
  for (const prompts of job.prompts) {
    const B = prompts.length, T = prompts[0].length;
    const ids = new tjs.Tensor('int64', BigInt64Array.from(prompts.flat().map(BigInt)), [B, T]);
    const mask = new tjs.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]);
    const r = { batch: B, wallMs: [], tokensPerSecond: [], prefillMs: [] };
    for (let rep = 0; rep <= job.reps; rep++) {
      // time to first token (prefill + one token) measured separately, so decode speed excludes the prefill
      let t = performance.now();
      await model.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: 1, min_new_tokens: 1, do_sample: false });
      const first = performance.now() - t;
      t = performance.now();
      const seq = await model.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: job.maxNew, min_new_tokens: job.maxNew, do_sample: false });
      const wall = performance.now() - t;
      if (rep === 0) {
        r.firstRow = Array.from(seq.data.slice(T, seq.dims[1]), Number);
        continue; // warm-up
      }
      r.wallMs.push(wall);
      r.prefillMs.push(first);
      r.tokensPerSecond.push(((job.maxNew - 1) * B) / ((wall - first) / 1000));
    }
    out.runs.push(r);
  }
  out.ok = true;
} catch (e) {
  out.error = `${e?.name ?? 'Error'}: ${String(e?.message ?? e).split('\n').slice(0, 3).join(' ')}`;
}
console.log(JSON.stringify(out));
