// Shared helpers for the conversion tests: temp folders, sessions, greedy decoding.
import ort from 'onnxruntime-node';
import { tempDir as scratchTempDir } from '../helpers/scratch.mjs';

export { ort };
export { sharedData, repoRoot } from '../import/helpers.mjs';

/** A fresh temporary folder (removed at process exit): test/helpers/scratch.mjs, with this area's prefix. */
export const tempDir = (prefix = 'ac-convert-') => scratchTempDir(prefix);

const i64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

/** Runs one unpadded sequence step with an optional past; returns all outputs. */
export async function runStep(session, m, ids, past = null, pastLen = 0) {
  const feeds = {
    input_ids: i64([ids]),
    attention_mask: i64([Array(pastLen + ids.length).fill(1)]),
    position_ids: i64([ids.map((_, i) => pastLen + i)]),
  };
  for (let i = 0; i < m.numLayers; i++) {
    for (const k of ['key', 'value']) {
      feeds[`past_key_values.${i}.${k}`] = past
        ? past[`present.${i}.${k}`]
        : new ort.Tensor('float32', new Float32Array(0), [1, m.numKvHeads, 0, m.headDim]);
    }
  }
  if (session.inputNames.includes('num_logits_to_keep')) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([0n]), []);
  return session.run(feeds);
}

function argmaxLast(t) {
  const [, T, V] = t.dims;
  const off = (T - 1) * V;
  let best = 0;
  for (let v = 1; v < V; v++) if (t.data[off + v] > t.data[off + best]) best = v;
  return best;
}

/** Greedy decoding with the KV cache: returns the generated ids (prompt excluded). */
export async function greedy(session, m, prompt, steps, eos = []) {
  let out = await runStep(session, m, prompt);
  let len = prompt.length;
  const gen = [];
  for (let s = 0; s < steps; s++) {
    const next = argmaxLast(out.logits);
    gen.push(next);
    if (eos.includes(next)) break;
    out = await runStep(session, m, [next], out, len);
    len += 1;
  }
  return gen;
}

/** Max |a - b|. */
export function maxDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
