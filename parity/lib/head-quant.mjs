// What quantising the LM head would do to ACD (measured, not built: every weight form keeps a float32 head).
// The head is quantised here in JS, per row in blocks of 32 along the hidden axis, symmetric (scale = max|w| / 7
// for 4 bits, / 127 for 8 bits; the code is round(w / scale)), the layout of onnxruntime-genai's int4 heads.
// At given positions, with the float32 form's own expert (final) and amateur (exit L) hidden states, it counts
// positions where the plausibility set (expert probability >= alpha x max) or ACD's / plain greedy's choice change.

/** A dequantised copy of `w` ([V, d] row-major) at `bits` (4 or 8), block 32. */
export function quantizeRows(w, V, d, bits) {
  const q = new Float32Array(w.length);
  const top = bits === 4 ? 7 : 127;
  for (let r = 0; r < V; r++) {
    for (let b = 0; b < d; b += 32) {
      const o = r * d + b;
      const n = Math.min(32, d - b);
      let m = 0;
      for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(w[o + i]));
      const s = m / top || 1;
      for (let i = 0; i < n; i++) q[o + i] = Math.max(-top - 1, Math.min(top, Math.round(w[o + i] / s))) * s;
    }
  }
  return q;
}

function logits(w, V, d, h) {
  const out = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    const o = v * d;
    for (let i = 0; i < d; i++) s += w[o + i] * h[i];
    out[v] = s;
  }
  return out;
}

function logSoftmax(z) {
  let m = -Infinity;
  for (const x of z) m = Math.max(m, x);
  let s = 0;
  for (const x of z) s += Math.exp(x - m);
  const lse = m + Math.log(s);
  return z.map((x) => x - lse);
}

/** Plausibility set (indices), ACD argmax (log p_e - log p_a over the set) and plain argmax. */
function decide(ze, za, alpha) {
  const le = logSoftmax(ze);
  const la = logSoftmax(za);
  let best = 0;
  for (let v = 1; v < le.length; v++) if (le[v] > le[best]) best = v;
  const cut = le[best] + Math.log(alpha);
  const set = [];
  let acd = -1;
  for (let v = 0; v < le.length; v++) {
    if (le[v] >= cut) {
      set.push(v);
      if (acd < 0 || le[v] - la[v] > le[acd] - la[acd]) acd = v;
    }
  }
  return { set, acd, plain: best };
}

/**
 * `samples`: [{ expert: Float32Array(d), amateur: Float32Array(d) }] (normed hidden states of the float32 form).
 * Returns per bit width the positions whose plausibility set / ACD choice / plain choice differ from float32.
 */
export function headQuantEffect(head, V, d, samples, alpha) {
  const heads = { 8: quantizeRows(head, V, d, 8), 4: quantizeRows(head, V, d, 4) };
  const res = { positions: samples.length, bits: {} };
  const base = samples.map((s) => decide(logits(head, V, d, s.expert), logits(head, V, d, s.amateur), alpha));
  for (const bits of [8, 4]) {
    let setChanged = 0, acdChanged = 0, plainChanged = 0, sizeDelta = 0;
    samples.forEach((s, i) => {
      const q = decide(logits(heads[bits], V, d, s.expert), logits(heads[bits], V, d, s.amateur), alpha);
      const a = base[i];
      if (q.set.length !== a.set.length || q.set.some((v, j) => v !== a.set[j])) setChanged++;
      sizeDelta += Math.abs(q.set.length - a.set.length);
      if (q.acd !== a.acd) acdChanged++;
      if (q.plain !== a.plain) plainChanged++;
    });
    res.bits[bits] = { plausibilitySetChanged: setChanged, meanSetSizeChange: +(sizeDelta / samples.length).toFixed(3), acdChoiceChanged: acdChanged, plainChoiceChanged: plainChanged };
  }
  return res;
}
