// Agreement with an independent float64 implementation of the paper's formulas (test/helpers/reference64.mjs)
// to 1e-5 in probability, for every backend and dtype, at V = 50257 and small V.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';
import { reference64 } from '../helpers/reference64.mjs';

const { contrast, availableBackends, toFloat16, toBfloat16, fromHalfBits } = lib;
const TOL = 1e-5;

function inputs(dtype, V, seed, scale) {
  const e = normals(V, seed, scale), a = normals(V, seed + 1, scale);
  if (dtype === 'float32') return { E: e, A: a, e64: Float64Array.from(e), a64: Float64Array.from(a), opt: {} };
  const conv = dtype === 'float16' ? toFloat16 : toBfloat16;
  const E = conv(e), A = conv(a);
  // The reference sees exactly the values the kernel sees: the 16-bit inputs decoded.
  return { E, A, e64: Float64Array.from(fromHalfBits(E, dtype)), a64: Float64Array.from(fromHalfBits(A, dtype)), opt: { dtype } };
}

const CASES = [
  { V: 50257, alpha: 0.1, minCandidates: 1, scale: 3 },
  { V: 50257, alpha: 0.01, minCandidates: 5, scale: 1 },
  { V: 50257, alpha: 0.5, minCandidates: 20, scale: 6, mode: 'cd' },
  { V: 50257, alpha: 0.1, minCandidates: 1, scale: 4, mode: 'cd', beta: 0.5 },
  { V: 1000, alpha: 0.2, minCandidates: 1, scale: 2 },
  { V: 17, alpha: 0.05, minCandidates: 3, scale: 1 },
  { V: 3, alpha: 0.9, minCandidates: 2, scale: 1 },
];

for (const backend of availableBackends()) {
  for (const dtype of ['float32', 'float16', 'bfloat16']) {
    CASES.forEach((c, ci) => {
      const mode = c.mode ?? 'acd';
      test(`${backend} ${dtype} ${mode} V=${c.V} alpha=${c.alpha} k=${c.minCandidates}${c.beta !== undefined ? ` beta=${c.beta}` : ''}`, () => {
        const { E, A, e64, a64, opt } = inputs(dtype, c.V, 1000 + ci * 7, c.scale);
        const r = contrast(E, A, { ...opt, backend, mode, alpha: c.alpha, minCandidates: c.minCandidates, beta: c.beta });
        const ref = reference64(e64, a64, { alpha: c.alpha, minCandidates: c.minCandidates, mode, beta: c.beta });
        assert.is(r.headSize[0], ref.head.size, 'head size');
        assert.ok(Math.abs(r.headMass[0] - ref.mass) < TOL, `mass ${r.headMass[0]} vs ${ref.mass}`);
        let worst = 0, at = -1;
        for (let v = 0; v < c.V; v++) {
          const p = Math.exp(r.logProbs[v]);
          const d = Math.abs(p - ref.prob[v]);
          if (d > worst) { worst = d; at = v; }
          if (mode === 'cd' && !ref.head.has(v)) assert.is(r.logProbs[v], -Infinity, `token ${v} outside the head`);
        }
        assert.ok(worst <= TOL, `max |p - p_ref| = ${worst} at token ${at}`);
      });
    });
  }
}

test('a batch of 8 rows equals the rows one at a time (every backend)', () => {
  const V = 50257, rows = 8;
  const E = normals(rows * V, 77, 3), A = normals(rows * V, 78, 3);
  for (const backend of availableBackends()) {
    const all = contrast(E, A, { backend, vocabSize: V });
    for (let r = 0; r < rows; r++) {
      const one = contrast(E.subarray(r * V, (r + 1) * V), A.subarray(r * V, (r + 1) * V), { backend });
      assert.equal(all.logProbs.subarray(r * V, (r + 1) * V), one.logProbs, `${backend} row ${r}`);
      assert.is(all.headSize[r], one.headSize[0]);
    }
  }
});

test.run();
