// Shared helpers for the exit-fitting tests: tiny random model folders (all positions, logit-lens exits at every
// layer) and token streams a tiny model can learn from.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import graphPkg from '../../dist/model/graph/index.js';
import manifestPkg from '../../dist/model/manifest/index.js';
import runtimePkg from '../../dist/runtime/index.js';
import trainPkg from '../../dist/train/index.js';

export { trainPkg, graphPkg, manifestPkg };

const dirs = [];
process.on('exit', () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
/** A temporary folder removed at exit. */
export function tempDir(prefix = 'ac-train-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Why these tests cannot run here (printed), or null. */
export function runtimeSkip() {
  const st = runtimePkg.runtimeStatus();
  if (st.available) return null;
  console.log(`skipped: runtime not built (${st.reason})`);
  return st.reason;
}

/**
 * A tiny random model folder (`tiny-llama` or `tiny-gpt2` shapes) with logit-lens exits at every layer (hidden
 * outputs only, like `pull`'s folders) and all positions selectable (`logitPositions: input`).
 */
export async function tinyModel(arch = 'llama', seed = 3) {
  const config = arch === 'llama' ? graphPkg.TINY_LLAMA_CONFIG : graphPkg.TINY_GPT2_CONFIG;
  const weights = graphPkg.tinyDecoderWeights(config, seed, { std: 0.3, vectorStd: 0.1 });
  const exits = Array.from({ length: config.numLayers + 1 }, (_, L) => ({ layer: L, kind: 'lens', logits: false }));
  const dir = path.join(tempDir(), `tiny-${arch}`);
  await manifestPkg.writeModelFolder(dir, { config, weights, exits, logitPositions: 'input', specialTokens: {} });
  return { dir, config };
}

/** `n` token ids from a seeded generator over `vocab` ids (a repeating pattern with noise, so there is something to learn). */
export function tokenStream(n, vocab, seed = 1) {
  const rand = graphPkg.mulberry32(seed);
  const out = [];
  for (let i = 0; i < n; i++) out.push(rand() < 0.7 ? (i * 7) % Math.min(vocab, 23) : Math.floor(rand() * vocab));
  return out;
}
