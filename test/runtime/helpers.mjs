// Shared helpers for the runtime tests: tiny model folders from the graph builder, the reference
// full-recompute forward on onnxruntime-node's JS API, and the skip rule (never silent).
import path from 'node:path';
import ort from 'onnxruntime-node';

import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import runtimePkg from 'autocontrast/runtime';
import { tempDir as scratchTempDir } from '../helpers/scratch.mjs';

export const graph = graphPkg;
export const manifest = manifestPkg;
export const rt = runtimePkg;
export { ort };

/** Why the runtime cannot run here, or null. Prints the reason so a skip is never silent. */
export function skipReason() {
  const st = rt.runtimeStatus();
  if (st.available) return null;
  const reason = `skipped: runtime not built (${st.reason})`;
  console.log(reason);
  return reason;
}

/** A fresh temporary folder (removed at process exit): test/helpers/scratch.mjs, with this area's prefix. */
export const tempDir = (prefix = 'ac-rt-') => scratchTempDir(prefix);

/** Writes a model folder. */
export async function buildModelFolder(config, { seed = 11, exits = [], logitPositions = 'last', std = 0.2, graphForm } = {}) {
  const weights = graph.tinyDecoderWeights(config, seed, { std, vectorStd: 0.1 });
  graph.addRandomExitWeights(weights, config, exits, seed + 1, { std, vectorStd: 0.1 });
  const dir = path.join(tempDir(), 'model');
  const written = await manifest.writeModelFolder(dir, { config, weights, exits, logitPositions, graphForm });
  return { dir, manifest: written.manifest };
}

/** Reference: the whole (unpadded) sequence recomputed from an empty cache on onnxruntime-node; last-position outputs. */
export async function recompute(session, m, ids) {
  const T = ids.length;
  const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
  const feeds = { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, i) => i)) };
  for (let i = 0; i < m.numLayers; i++) {
    for (const k of ['key', 'value']) {
      feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, m.numKvHeads, 0, m.headDim]);
    }
  }
  if (m.graph.logitPositions === 'input') feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([1n]), []);
  const out = await session.run(feeds);
  const last = (t) => {
    const w = t.dims[2];
    const pos = t.dims[1];
    return t.data.slice((pos - 1) * w, pos * w);
  };
  const res = { logits: last(out.logits) };
  for (const e of m.exits) {
    if (e.logitsOutput) res[e.logitsOutput] = last(out[e.logitsOutput]);
    if (e.hiddenOutput) res[e.hiddenOutput] = last(out[e.hiddenOutput]);
  }
  void T;
  return res;
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmax(a, off = 0, n = a.length) {
  let best = off;
  for (let i = off + 1; i < off + n; i++) if (a[i] > a[best]) best = i;
  return best - off;
}

/** Deterministic pseudo-random token ids. */
export function tokens(n, vocab, seed) {
  const rnd = graph.mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rnd() * vocab));
}
