// Shared helpers for the exit-fitting tests: tiny random model folders (all positions, logit-lens exits at every
// layer) and token streams a tiny model can learn from.
import path from 'node:path';

import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import trainPkg from 'autocontrast/train';
import { runtimeSkip, tempDir as scratchDir } from '../helpers/scratch.mjs';

export { trainPkg, graphPkg, manifestPkg };

export { runtimeSkip };
/** A temporary folder removed at exit. */
export const tempDir = (prefix = 'ac-train-') => scratchDir(prefix);

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
