// The naive JavaScript peer: the reference formulas written the way the Python reference computes them, one
// whole-vocabulary array per step (softmax, max, threshold mask, log-ratio, masked softmax, mass, log).
// With minCandidates = 1 the reference's sorted k-th candidate is the max itself, so no sort is done here.
export function naiveAcd(expert, amateur, alpha = 0.1) {
  const V = expert.length;
  const softmax = (z) => {
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, z[i]);
    const p = new Float64Array(V);
    let s = 0;
    for (let i = 0; i < V; i++) s += p[i] = Math.exp(z[i] - m);
    for (let i = 0; i < V; i++) p[i] /= s;
    return p;
  };
  const pu = softmax(expert), pl = softmax(amateur);
  let pmax = 0;
  for (let i = 0; i < V; i++) pmax = Math.max(pmax, pu[i]);
  const thr = pmax * alpha;
  const contrasted = new Float64Array(V);
  for (let i = 0; i < V; i++) contrasted[i] = pu[i] >= thr ? Math.log(pu[i]) - Math.log(pl[i]) : -Infinity;
  const sm = softmax(contrasted);
  let mass = 0;
  for (let i = 0; i < V; i++) if (pu[i] >= thr) mass += pu[i];
  const out = new Float32Array(V);
  for (let i = 0; i < V; i++) out[i] = Math.log(pu[i] >= thr ? sm[i] * mass : pu[i]);
  return out;
}
