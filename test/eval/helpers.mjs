// Shared helpers for the evaluation tests: tiny model folders in the scoring form ('input' positions), with
// exits of every kind (dense logits outputs, hidden-only logit-lens exits, a trained head), stories260K.
import path from 'node:path';

import evalPkg from 'autocontrast/eval';
import gen from 'autocontrast/generate';
import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import { sharedData } from '../import/helpers.mjs';
import { storiesFolder } from '../generate/helpers.mjs';
import { runtimeSkip, tempDir as scratchDir } from '../helpers/scratch.mjs';

export { evalPkg, gen, sharedData, storiesFolder };

export { runtimeSkip };
/** A temporary folder removed at exit. */
export const tempDir = (prefix = 'ac-eval-') => scratchDir(prefix);

/**
 * A tiny random Llama folder scored in 'input' form: exit 1 a logit lens with hidden and logits outputs,
 * exit 2 a hidden-only logit lens (sparse amateur), exit 3 a trained head with bias (both outputs).
 */
export async function tinyScoringFolder(logitPositions = 'input') {
  const config = { ...graphPkg.TINY_LLAMA_CONFIG, numLayers: 4 };
  const exits = [
    { layer: 1, kind: 'lens' },
    { layer: 2, kind: 'lens', logits: false },
    { layer: 3, kind: 'head', bias: 'exit_heads.3.bias' },
  ].filter((e) => e.layer < config.numLayers);
  const weights = graphPkg.tinyDecoderWeights(config, 21, { std: 0.3, vectorStd: 0.1 });
  graphPkg.addRandomExitWeights(weights, config, exits, 22, { std: 0.3, vectorStd: 0.1 });
  const dir = path.join(tempDir(), `tiny-${logitPositions}`);
  await manifestPkg.writeModelFolder(dir, { config, weights, exits, logitPositions, specialTokens: { eos: [0] } });
  return { dir, config, exits };
}

/** Deterministic pseudo-random token ids. */
export function tokens(n, vocab, seed) {
  const rnd = graphPkg.mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rnd() * vocab));
}

/** Resolves to the error `fn` rejects with (fails when it resolves). */
export async function rejection(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
