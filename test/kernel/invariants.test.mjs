// The invariants of acd-math.md at V = 50257, for every backend and dtype, plus SIMD paths against the scalar one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';
import { logSoftmax64 } from '../helpers/reference64.mjs';

const { contrast, acdLogProbs, availableBackends, toFloat16, toBfloat16, fromHalfBits } = lib;
const V = 50257;
const conv = { float32: (x) => x, float16: toFloat16, bfloat16: toBfloat16 };
const decode = (x, dtype) => (dtype === 'float32' ? x : fromHalfBits(x, dtype));

for (const backend of availableBackends()) {
  for (const dtype of ['float32', 'float16', 'bfloat16']) {
    const opt = { backend, ...(dtype === 'float32' ? {} : { dtype }) };
    const E = conv[dtype](normals(V, 11, 3)), A = conv[dtype](normals(V, 12, 3));
    const lpe = logSoftmax64(decode(E, dtype));

    test(`${backend} ${dtype}: sums to 1 and leaves tokens outside the head at p_e`, () => {
      const r = contrast(E, A, { ...opt, alpha: 0.05 });
      let sum = 0, outside = 0;
      const headThr = Math.max(...lpe) + Math.log(0.05);
      for (let v = 0; v < V; v++) {
        sum += Math.exp(r.logProbs[v]);
        if (lpe[v] < headThr - 1e-6) {
          outside++;
          assert.ok(Math.abs(r.logProbs[v] - lpe[v]) < 1e-5, `token ${v}: ${r.logProbs[v]} vs log p_e ${lpe[v]}`);
        }
      }
      assert.ok(Math.abs(sum - 1) < 1e-5, `sum ${sum}`);
      assert.ok(outside > V - 1000, 'most tokens are outside the head');
    });

    test(`${backend} ${dtype}: alpha = 1 with a unique arg-max gives p_e exactly`, () => {
      const r = contrast(E, A, { ...opt, alpha: 1 });
      assert.is(r.headSize[0], 1);
      for (let v = 0; v < V; v += 97) assert.ok(Math.abs(r.logProbs[v] - lpe[v]) < 1e-5);
      let arg = 0;
      for (let v = 1; v < V; v++) if (r.logProbs[v] > r.logProbs[arg]) arg = v;
      assert.is(arg, lpe.indexOf(Math.max(...lpe)), 'greedy choice unchanged');
    });

    test(`${backend} ${dtype}: identical expert and amateur give a uniform head carrying its mass`, () => {
      const r = contrast(E, E, { ...opt, alpha: 0.02 });
      const h = r.headSize[0];
      assert.ok(h > 1);
      const expected = Math.log(r.headMass[0] / h);
      let seen = 0;
      const thr = Math.max(...lpe) + Math.log(0.02);
      for (let v = 0; v < V; v++) {
        if (lpe[v] >= thr + 1e-6) {
          seen++;
          assert.ok(Math.abs(r.logProbs[v] - expected) < 1e-5, `token ${v}`);
        }
      }
      assert.ok(seen >= h - 2);
    });

    test(`${backend} ${dtype}: adding a constant to the amateur or the expert changes nothing`, () => {
      // On a 1/8 grid within +-15 every value and its shift by +8 / -4 is exact in all three dtypes.
      const grid = (seed) => Float32Array.from(normals(V, seed, 3), (x) => Math.max(-15, Math.min(15, Math.round(x * 8) / 8)));
      const e0 = grid(21), a0 = grid(22);
      const base = acdLogProbs(conv[dtype](e0), conv[dtype](a0), opt);
      const a = acdLogProbs(conv[dtype](e0), conv[dtype](a0.map((x) => x + 8)), opt);
      const e = acdLogProbs(conv[dtype](e0.map((x) => x - 4)), conv[dtype](a0), opt);
      for (let v = 0; v < V; v++) {
        assert.ok(Math.abs(Math.exp(a[v]) - Math.exp(base[v])) < 1e-6, `amateur shift, token ${v}`);
        assert.ok(Math.abs(Math.exp(e[v]) - Math.exp(base[v])) < 1e-6, `expert shift, token ${v}`);
      }
    });
  }
}

test('ties: every token equal to the max is in the head (alpha = 1)', () => {
  for (const backend of availableBackends()) {
    const E = new Float32Array(V).fill(-1);
    for (const v of [5, 40000, 50256]) E[v] = 2;
    const r = contrast(E, normals(V, 3), { backend, alpha: 1 });
    assert.is(r.headSize[0], 3, backend);
  }
});

test('every native instruction set agrees with the native scalar path', () => {
  const natives = availableBackends().filter((b) => b.startsWith('native-') && b !== 'native-scalar');
  if (!natives.length) console.log('  skipped: no SIMD backend on this machine/build');
  if (!availableBackends().includes('native-scalar')) {
    console.log('  skipped: native addon not loaded');
    return;
  }
  for (const b of natives) {
    for (const [dtype, mode, alpha, k] of [['float32', 'acd', 0.1, 1], ['float16', 'cd', 0.01, 7], ['bfloat16', 'acd', 0, 1]]) {
      for (const size of [1, 7, 8, 15, 16, 17, 33, 1000, V]) {
        const E = conv[dtype](normals(size, size + 1, 4)), A = conv[dtype](normals(size, size + 2, 4));
        const opt = { mode, alpha, minCandidates: Math.min(k, size), ...(dtype === 'float32' ? {} : { dtype }) };
        const s = contrast(E, A, { ...opt, backend: 'native-scalar' });
        const x = contrast(E, A, { ...opt, backend: b });
        assert.is(x.headSize[0], s.headSize[0], `${b} ${dtype} V=${size} head size`);
        for (let v = 0; v < size; v++) {
          if (s.logProbs[v] === -Infinity) assert.is(x.logProbs[v], -Infinity);
          else assert.ok(Math.abs(Math.exp(x.logProbs[v]) - Math.exp(s.logProbs[v])) < 1e-6, `${b} ${dtype} V=${size} token ${v}`);
        }
      }
    }
  }
});

test.run();
