// Shared helpers for the graph tests: temp folders, building tiny models, running sessions.
import path from 'node:path';
import ort from 'onnxruntime-node';
import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import { tempDir as scratchTempDir } from '../helpers/scratch.mjs';

export const graph = graphPkg;
export const manifest = manifestPkg;
export { ort };

/** A fresh temporary folder (removed at process exit): test/helpers/scratch.mjs, with this area's prefix. */
export const tempDir = (prefix = 'ac-graph-') => scratchTempDir(prefix);

/** Writes a tiny model folder and opens a session on it. */
export async function buildModel(config, { seed = 7, exits = [], logitPositions, std = 0.2, exitWeights = true, graphForm } = {}) {
  const weights = graph.tinyDecoderWeights(config, seed, { std, vectorStd: 0.1 });
  if (exitWeights) graph.addRandomExitWeights(weights, config, exits, seed + 1, { std, vectorStd: 0.1 });
  const dir = path.join(tempDir(), 'model');
  const written = await manifest.writeModelFolder(dir, { config, weights, exits, logitPositions, graphForm });
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  return { dir, weights, session, manifest: written.manifest };
}

const i64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

/**
 * Runs one step. ids/mask/positions are arrays of rows; past is the previous result (or null
 * for an empty cache). Returns all outputs.
 */
export async function step(session, m, { ids, mask, positions, past = null, keep }) {
  const B = ids.length;
  const feeds = { input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(positions) };
  for (let i = 0; i < m.numLayers; i++) {
    for (const k of ['key', 'value']) {
      feeds[`past_key_values.${i}.${k}`] = past
        ? past[`present.${i}.${k}`]
        : new ort.Tensor('float32', new Float32Array(0), [B, m.numKvHeads, 0, m.headDim]);
    }
  }
  if (keep !== undefined) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([BigInt(keep)]), []);
  return session.run(feeds);
}

/** Runs a single unpadded sequence from an empty cache. */
export function runSequence(session, m, ids) {
  return step(session, m, { ids: [ids], mask: [ids.map(() => 1)], positions: [ids.map((_, i) => i)] });
}

/** Row [b][t] of a [B, T, X] tensor as a Float32Array. */
export function row(tensor, b, t) {
  const [, T, X] = tensor.dims;
  return tensor.data.subarray((b * T + t) * X, (b * T + t + 1) * X);
}

/** Max |a - b| over two equal-length arrays. */
export function maxDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Asserts every position of a [1, T, X] tensor matches reference rows ref[t] within tol. */
export function expectRows(assert, tensor, ref, tol, label) {
  assert.is(tensor.dims[1], ref.length, `${label}: positions`);
  for (let t = 0; t < ref.length; t++) {
    const d = maxDiff(row(tensor, 0, t), ref[t]);
    assert.ok(d < tol, `${label} position ${t}: max diff ${d}`);
  }
}
