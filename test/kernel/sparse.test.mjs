// The sparse amateur (hidden state + exit head) gives what the dense kernel gives on z_a = W h + b.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';

const { acdLogProbs, acdLogProbsSparse, cdScores, cdScoresSparse, contrast, availableBackends, toFloat16, fromHalfBits, acdLogProbsSparseAsync, cdScoresSparseAsync } = lib;

function denseAmateur(W, h, b, V, d, rows) {
  const z = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++)
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += W[v * d + i] * h[r * d + i];
      z[r * V + v] = s + (b ? b[v] : 0);
    }
  return z;
}

const CASES = [
  { V: 50257, d: 64, rows: 1, bias: true, dtype: 'float32' },
  { V: 4000, d: 1024, rows: 2, bias: false, dtype: 'float32' },
  { V: 3000, d: 96, rows: 3, bias: true, dtype: 'float16' },
  { V: 7, d: 1, rows: 1, bias: false, dtype: 'float32' },
];

for (const backend of availableBackends()) {
  for (const c of CASES) {
    test(`${backend}: sparse = dense on W h + b (V=${c.V} d=${c.d} rows=${c.rows} bias=${c.bias} ${c.dtype})`, () => {
      const { V, d, rows } = c;
      const E = normals(rows * V, 5, 3);
      const h = normals(rows * d, 6, 1);
      let W = normals(V * d, 7, 0.5 / Math.sqrt(d) * 3), b = c.bias ? normals(V, 8, 0.5) : undefined;
      const opt = { backend, vocabSize: V, alpha: 0.05, minCandidates: 2 };
      let wArg = W, bArg = b;
      const sopt = {};
      if (c.dtype === 'float16') {
        wArg = toFloat16(W); W = fromHalfBits(wArg, 'float16');
        if (b) { bArg = toFloat16(b); b = fromHalfBits(bArg, 'float16'); }
        sopt.weightDtype = 'float16';
      }
      const A = denseAmateur(W, h, b, V, d, rows);
      const dense = contrast(E, A, opt);
      const sHead = new Int32Array(rows);
      const sparse = acdLogProbsSparse(E, h, wArg, { ...opt, ...sopt, headBias: bArg, headSize: sHead });
      assert.equal(Array.from(sHead), Array.from(dense.headSize));
      for (let i = 0; i < rows * V; i++)
        assert.ok(Math.abs(Math.exp(sparse[i]) - Math.exp(dense.logProbs[i])) < 1e-5, `token ${i}`);
      const cdD = cdScores(E, A, opt), cdS = cdScoresSparse(E, h, wArg, { ...opt, ...sopt, headBias: bArg });
      for (let i = 0; i < rows * V; i++)
        if (cdD[i] === -Infinity) assert.is(cdS[i], -Infinity);
        else assert.ok(Math.abs(cdS[i] - cdD[i]) < 1e-4, `cd token ${i}`);
    });
  }
}

test('async sparse equals sync sparse (ACD and CD)', async () => {
  const V = 1000, d = 32;
  const E = normals(V, 1, 3), h = normals(d, 2), W = normals(V * d, 3, 0.3);
  const a = await acdLogProbsSparseAsync(E, h, W);
  assert.equal(a, acdLogProbsSparse(E, h, W));
  assert.equal(await cdScoresSparseAsync(E, h, W, { alpha: 0.3 }), cdScoresSparse(E, h, W, { alpha: 0.3 }));
});

test('sparse head reads only head rows: NaN in a weight row outside the head is not read', () => {
  // A documented consequence of computing only |H| dot products; a NaN in a head row is reported.
  const V = 100, d = 4;
  const E = new Float32Array(V).fill(-5); E[3] = 5;
  const W = normals(V * d, 4);
  W[50 * d] = NaN;
  for (const backend of availableBackends()) {
    const out = acdLogProbsSparse(E, normals(d, 5), W, { backend, alpha: 0.5 });
    assert.ok(Math.abs(Math.exp(out[3]) - Math.exp(acdLogProbs(E, E, { backend, alpha: 0.5 })[3])) < 1e-6);
    W[3 * d + 1] = NaN;
    assert.throws(() => acdLogProbsSparse(E, normals(d, 5), W, { backend, alpha: 0.5 }), (e) => e instanceof RangeError && /amateur.*index 3/.test(e.message));
    W[3 * d + 1] = 0;
  }
});

test.run();
