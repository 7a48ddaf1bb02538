// Shared helpers for the generation tests: stories260K converted once into a temp folder, tiny random folders.
import path from 'node:path';

import gen from 'autocontrast/generate';
import convertPkg from 'autocontrast/convert';
import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import { sharedData } from '../import/helpers.mjs';
import { runtimeSkip, tempDir as scratchDir } from '../helpers/scratch.mjs';

export { gen };

export { runtimeSkip };
/** A temporary folder removed at exit. */
export const tempDir = (prefix = 'ac-gen-') => scratchDir(prefix);

const cache = new Map();

/** stories260K converted with `exits` (default every layer, hidden and logits outputs); null when ../shared/data is absent. */
export async function storiesFolder(exits) {
  const key = String(exits ?? 'default');
  if (cache.has(key)) return cache.get(key);
  const data = sharedData(`stories260K generation (${key})`);
  if (!data) return null;
  const out = path.join(tempDir(), 'stories');
  await convertPkg.convert(path.join(data, 'gguf', 'models', 'stories260K.gguf'), { out, exits });
  cache.set(key, out);
  return out;
}

/** A tiny random GPT-2 folder with a trained-head exit (with bias) at 1 and a logit-lens exit at 2 (both outputs), no tokenizer. */
export async function tinyFolder() {
  if (cache.has('tiny')) return cache.get('tiny');
  const config = graphPkg.TINY_GPT2_CONFIG;
  const exits = [{ layer: 1, kind: 'head', bias: 'exit_heads.1.bias' }, { layer: 2, kind: 'lens' }];
  const weights = graphPkg.tinyDecoderWeights(config, 5, { std: 0.3, vectorStd: 0.1 });
  graphPkg.addRandomExitWeights(weights, config, exits, 6, { std: 0.3, vectorStd: 0.1 });
  const dir = path.join(tempDir(), 'tiny');
  await manifestPkg.writeModelFolder(dir, { config, weights, exits, logitPositions: 'last', specialTokens: {} });
  cache.set('tiny', dir);
  return dir;
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
