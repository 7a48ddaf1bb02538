// The scoring path's head projection (src/runtime/head-session.ts): one ONNX Runtime matrix product for the rows
// of many exits, giving log-probabilities and each row's first arg-max, against a float64 reference computed here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import half from 'autocontrast/kernel';
import rt from 'autocontrast/runtime';
import { runtimeSkip } from './helpers.mjs';

const skip = runtimeSkip();

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function reference(hidden, W, bias, V, d) {
  const rows = hidden.length / d;
  const logits = new Float64Array(rows * V);
  const lse = [];
  const arg = [];
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    let best = 0;
    for (let v = 0; v < V; v++) {
      let s = bias ? bias[v] : 0;
      for (let k = 0; k < d; k++) s += hidden[r * d + k] * W[v * d + k];
      logits[r * V + v] = s;
      if (s > m) {
        m = s;
        best = v;
      }
    }
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[r * V + v] - m);
    lse.push(m + Math.log(z));
    arg.push(best);
  }
  return { logits, lse, arg };
}

function check(got, want, tol, label) {
  const V = want.logits.length / want.lse.length;
  let m = 0;
  for (let i = 0; i < want.logits.length; i++) m = Math.max(m, Math.abs(got.logProbs[i] - (want.logits[i] - want.lse[Math.floor(i / V)])));
  assert.ok(m < tol, `${label}: log-probabilities differ by ${m}`);
  for (let r = 0; r < want.lse.length; r++) assert.is(Number(got.argMax[r]), want.arg[r], `${label}: row ${r} arg-max`);
}

test('float32 head with bias: log-probabilities and first arg-max equal a float64 reference', async () => {
  if (skip) return;
  const V = 37;
  const d = 8;
  const r = rng(7);
  const W = Float32Array.from({ length: V * d }, r);
  const bias = Float32Array.from({ length: V }, r);
  // rows 3 and 4 tie on purpose: two vocabulary rows equal, the first must win
  W.set(W.subarray(5 * d, 6 * d), 20 * d);
  bias[20] = bias[5];
  const hidden = Float32Array.from({ length: 5 * d }, r);
  hidden.set(W.subarray(5 * d, 6 * d).map((x) => 4 * x), 3 * d);
  const s = await rt.HeadSession.open({ weight: W, dtype: 'float32', bias }, V, d, { threads: 1 });
  const got = await s.project(hidden);
  check(got, reference(hidden, W, bias, V, d), 1e-5, 'float32');
  assert.is(Number(got.argMax[3]), 5, 'a tie goes to the first maximum');
  await s.dispose();
});

test('float16 head without bias: widened once, equal to the reference on the widened values', async () => {
  if (skip) return;
  const V = 29;
  const d = 6;
  const r = rng(11);
  const bits = half.toFloat16(Array.from({ length: V * d }, r));
  const widened = half.fromHalfBits(bits, 'float16');
  const hidden = Float32Array.from({ length: 3 * d }, r);
  const s = await rt.HeadSession.open({ weight: bits, dtype: 'float16' }, V, d);
  check(await s.project(hidden), reference(hidden, widened, null, V, d), 1e-5, 'float16');
  await s.dispose();
});

test('bad shapes are refused with RangeError naming the sizes', async () => {
  if (skip) return;
  const e1 = await rt.HeadSession.open({ weight: new Float32Array(10), dtype: 'float32' }, 3, 4).catch((e) => e);
  assert.instance(e1, RangeError);
  assert.match(e1.message, /10 values, expected 3 x 4/);
  const s = await rt.HeadSession.open({ weight: new Float32Array(12), dtype: 'float32' }, 3, 4);
  const e2 = await s.project(new Float32Array(6)).catch((e) => e);
  assert.instance(e2, RangeError);
  assert.match(e2.message, /6 values, not a positive multiple of 4/);
  await s.dispose();
});

test.run();
