// An independent float64 implementation of the paper's formulas, written as the reference package states them
// (probability space: softmax, threshold alpha * max p with a sorted k-th candidate, log-ratio, masked softmax
// times mass). It shares no code with the library and is what the kernels are checked against.
export function softmax64(z) {
  let m = -Infinity;
  for (const x of z) m = Math.max(m, x);
  let s = 0;
  const p = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) s += p[i] = Math.exp(z[i] - m);
  for (let i = 0; i < z.length; i++) p[i] /= s;
  return p;
}

/** log(softmax(z)) in float64, as a plain array. */
export function logSoftmax64(z) {
  let m = -Infinity;
  for (const x of z) m = Math.max(m, x);
  let s = 0;
  for (const x of z) s += Math.exp(x - m);
  const lse = m + Math.log(s);
  return Array.from(z, (x) => x - lse);
}

/** Returns { prob: Float64Array of p_acd (or CD probabilities), head: Set, mass } for one row. */
export function reference64(zExpert, zAmateur, { alpha = 0.1, minCandidates = 1, mode = 'acd', beta } = {}) {
  const V = zExpert.length;
  const pe = softmax64(zExpert);
  const pa = softmax64(zAmateur);
  let pmax = 0;
  for (const p of pe) pmax = Math.max(pmax, p);
  const sorted = Array.from(pe).sort((a, b) => b - a);
  const threshold = Math.min(alpha * pmax, sorted[minCandidates - 1]);
  const head = new Set();
  for (let v = 0; v < V; v++) if (pe[v] >= threshold) head.add(v);
  let mass = 0;
  const score = new Map();
  for (const v of head) {
    mass += pe[v];
    const s = beta === undefined
      ? Math.log(pe[v]) - Math.log(pa[v])
      : (1 + beta) * zExpert[v] - beta * zAmateur[v];
    score.set(v, s);
  }
  let smax = -Infinity;
  for (const s of score.values()) smax = Math.max(smax, s);
  let z = 0;
  for (const s of score.values()) z += Math.exp(s - smax);
  const prob = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    if (head.has(v)) prob[v] = (mode === 'acd' ? mass : 1) * Math.exp(score.get(v) - smax) / z;
    else prob[v] = mode === 'acd' ? pe[v] : 0;
  }
  return { prob, head, mass };
}
