// headLogits (dense head projection for early exit): native and TypeScript fallback against a float64 product.
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';

const { headLogits, toFloat16, toBfloat16, fromHalfBits, nativeInfo } = lib;
const hasNative = !!nativeInfo().path;
if (!hasNative) console.log('  (native addon not loaded: only the TypeScript fallback is checked)');

function reference64(W, h, b, V, d, rows) {
  const z = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++)
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += W[v * d + i] * h[r * d + i];
      z[r * V + v] = s + (b ? b[v] : 0);
    }
  return z;
}

function worstRel(got, want) {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  return m;
}

const CASES = [
  { V: 50257, d: 64, rows: 1, bias: true, dtype: 'float32' },
  { V: 3001, d: 257, rows: 3, bias: false, dtype: 'float32' },
  { V: 1000, d: 96, rows: 2, bias: true, dtype: 'float16' },
  { V: 513, d: 33, rows: 4, bias: true, dtype: 'bfloat16' },
  { V: 7, d: 1, rows: 1, bias: false, dtype: 'float32' },
];
const BACKENDS = hasNative ? ['native', 'js'] : ['js'];

for (const backend of BACKENDS) {
  for (const c of CASES) {
    test(`${backend}: headLogits = float64 W h + b (V=${c.V} d=${c.d} rows=${c.rows} bias=${c.bias} ${c.dtype})`, () => {
      const { V, d, rows } = c;
      const W32 = normals(V * d, 1 + V, 1 / Math.sqrt(d));
      const h = normals(rows * d, 2 + d);
      const b32 = c.bias ? normals(V, 3) : undefined;
      const conv = c.dtype === 'float16' ? toFloat16 : c.dtype === 'bfloat16' ? toBfloat16 : null;
      const W = conv ? conv(W32) : W32;
      const b = b32 && conv ? conv(b32) : b32;
      // The reference uses the values the kernel sees (half weights widened exactly).
      const Wr = conv ? fromHalfBits(W, c.dtype) : W32;
      const br = b && conv ? fromHalfBits(b, c.dtype) : b32;
      const want = reference64(Wr, h, br, V, d, rows);
      const out = new Float32Array(rows * V).fill(NaN);
      const got = headLogits(h, W, { hiddenSize: d, vocabSize: V, weightDtype: c.dtype, headBias: b, out, backend });
      assert.is(got, out);
      const err = worstRel(got, want);
      assert.ok(err < 1e-5, `max relative error ${err}`);
    });
  }
}

test('headLogits allocates its output when none is given, and native equals the fallback', () => {
  const V = 300, d = 24, rows = 2;
  const W = normals(V * d, 9), h = normals(rows * d, 10), b = normals(V, 11);
  const a = headLogits(h, W, { hiddenSize: d, vocabSize: V, headBias: b });
  const j = headLogits(h, W, { hiddenSize: d, vocabSize: V, headBias: b, backend: 'js' });
  assert.is(a.length, rows * V);
  assert.ok(worstRel(a, j) < 1e-5);
});

test('headLogits rejects wrong sizes and types with clear errors', () => {
  const W = new Float32Array(12), h = new Float32Array(4);
  assert.throws(() => headLogits(h, W, { hiddenSize: 4, vocabSize: 4 }), (e) => e instanceof RangeError && /headWeight holds 12/.test(e.message));
  assert.throws(() => headLogits(new Float32Array(5), W, { hiddenSize: 4, vocabSize: 3 }), (e) => e instanceof RangeError && /multiple of hiddenSize/.test(e.message));
  assert.throws(() => headLogits(h, W, { hiddenSize: 4, vocabSize: 3, headBias: new Float32Array(2) }), (e) => e instanceof RangeError && /headBias/.test(e.message));
  assert.throws(() => headLogits(h, W, { hiddenSize: 4, vocabSize: 3, out: new Float32Array(2) }), (e) => e instanceof RangeError && /out must be/.test(e.message));
  assert.throws(() => headLogits(h, [1, 2], { hiddenSize: 4, vocabSize: 3 }), TypeError);
  assert.throws(() => headLogits(h, W, { hiddenSize: 4, vocabSize: 3, weightDtype: 'float16' }), TypeError);
  assert.throws(() => headLogits(h, new Uint16Array(12), { hiddenSize: 4, vocabSize: 3, headBias: new Float32Array(3) }), TypeError);
  if (hasNative) {
    const addon = createRequire(import.meta.url)(nativeInfo().path);
    assert.throws(() => addon.headLogits({ hidden: h, rows: 1, hiddenSize: 4, vocab: 3, headWeight: W, weightDtype: 0, out: new Float32Array(4) }), RangeError);
  }
});

test.run();
