// The opt-in int8 candidate projection (dolaHead 'int8', native/kernels/head_i8.h): every native instruction set
// bit for bit against the scalar path, all of them against a float64 restatement of the rule (src/kernel/int8-head.ts,
// written from the header's formula), the packing of an exact int8-block head, the error bound against the float
// head, and DoLa with the option against the exact path where the bound cannot change the choice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';

const { compactHead, int8Head, candidateLogits, dolaContrast, headLogits, availableBackends, toFloat16, fromHalfBits } = lib;
const NATIVE = availableBackends().filter((b) => b.startsWith('native-'));
if (NATIVE.length === 0) console.log('  (native addon not loaded: only the TypeScript fallback is checked)');

// The packed layout as head_i8.h states it: tile t = v / 16 holds, per group of 4 values, 16 rows x 4 bytes (q + 128);
// its scales per block of 32, 16 rows at a time.
function int8Code(h, v, i) {
  const d = h.hiddenSize;
  return h.codes[Math.floor(v / 16) * d * 16 + Math.floor(i / 4) * 64 + (v % 16) * 4 + (i % 4)] - 128;
}
function int8Scale(h, v, b) {
  return h.scales[(Math.floor(v / 16) * (h.hiddenSize / 32) + b) * 16 + (v % 16)];
}

// ---------- an independent restatement of the quantisation (head_i8.h) in float64 ----------
function f32(x) {
  return Math.fround(x);
}
function nearestEven(x) {
  const f = Math.floor(x);
  const r = x - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
// per block of 32: t = max|x| / 127 (float32), q = round(x / t) in [-127, 127]
function quantise(x, off, d) {
  const q = new Int32Array(d);
  const t = new Float64Array(d / 32);
  for (let b = 0; b < d / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[off + b * 32 + i]));
    t[b] = f32(amax / 127);
    for (let i = 0; i < 32; i++) q[b * 32 + i] = t[b] > 0 ? Math.max(-127, Math.min(127, nearestEven(f32(x[off + b * 32 + i] / t[b])))) : 0;
  }
  return { q, t };
}
// The int8 logits of `rows` hidden rows: sum over blocks of (integer sum) x float32(s x t), in float64; also the sum
// of the terms' magnitudes (the scale of float32 accumulation error).
function restated(W, V, d, h, rows) {
  const hq = Array.from({ length: V }, (_, v) => quantise(W, v * d, d));
  const z = new Float64Array(rows * V);
  const mag = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++) {
    const x = quantise(h, r * d, d);
    for (let v = 0; v < V; v++) {
      let acc = 0, a = 0;
      for (let b = 0; b < d / 32; b++) {
        let s = 0;
        for (let i = b * 32; i < b * 32 + 32; i++) s += hq[v].q[i] * x.q[i];
        const term = s * f32(hq[v].t[b] * x.t[b]);
        acc += term;
        a += Math.abs(term);
      }
      z[r * V + v] = acc;
      mag[r * V + v] = a;
    }
  }
  return { z, mag };
}

function float64Logits(W, V, d, h, rows) {
  const z = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++)
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += W[v * d + i] * h[r * d + i];
      z[r * V + v] = s;
    }
  return z;
}

// A hidden row with the outliers of early-layer residual streams: a few dimensions 30x the rest, and an all-zero block.
function hiddenRows(rows, d, seed) {
  const h = normals(rows * d, seed, 1);
  for (let r = 0; r < rows; r++) {
    h[r * d + 5] *= 30;
    h[r * d + d - 3] *= 30;
    for (let i = 32; i < 64 && i < d; i++) h[r * d + i] = 0;
  }
  return h;
}

test('int8 projection: every native instruction set equals the scalar path bit for bit and the float64 restatement to float rounding (ragged tiles, 1-13 rows, threads)', () => {
  if (NATIVE.length === 0) {
    console.log('  skipped: the int8 projection is checked natively here; the TypeScript fallback is checked below');
    return;
  }
  for (const [V, d] of [[203, 64], [1030, 96], [37, 576]]) {
    const W = normals(V * d, V + d, 0.4);
    for (const rows of [1, 2, 3, 5, 9, 13]) {
      const h = hiddenRows(rows, d, rows * 31 + V);
      const { z, mag } = restated(W, V, d, h, rows);
      const scalar = candidateLogits(h, W, { hiddenSize: d, vocabSize: V, head: 'int8', backend: 'native-scalar' });
      for (let i = 0; i < z.length; i++) {
        // 18 float32 fused steps at most: each rounding within 2^-24 of the running magnitude
        assert.ok(Math.abs(scalar[i] - z[i]) <= 4e-7 * (mag[i] + 1e-30) * (d / 32), `V=${V} d=${d} rows=${rows} [${i}]: ${scalar[i]} vs ${z[i]}`);
      }
      for (const backend of NATIVE) {
        for (const threads of [1, 0]) {
          const got = candidateLogits(h, W, { hiddenSize: d, vocabSize: V, head: 'int8', backend, threads });
          assert.equal(Array.from(got), Array.from(scalar), `${backend} threads=${threads} V=${V} d=${d} rows=${rows}: = scalar`);
        }
      }
    }
  }
});

test('int8 projection: within the quantisation bound of the float head, sum |w| t/2 + |x| s/2 + (s t)/4 per block', () => {
  if (NATIVE.length === 0) {
    console.log('  skipped: native only (candidateLogits)');
    return;
  }
  const V = 311, d = 128, rows = 4;
  const W = normals(V * d, 5, 0.2);
  const h = hiddenRows(rows, d, 6);
  const exact = float64Logits(W, V, d, h, rows);
  const got = candidateLogits(h, W, { hiddenSize: d, vocabSize: V, head: 'int8' });
  let worstRatio = 0;
  for (let r = 0; r < rows; r++) {
    const x = quantise(h, r * d, d);
    for (let v = 0; v < V; v++) {
      const w = quantise(W, v * d, d);
      let bound = 0;
      for (let b = 0; b < d / 32; b++)
        for (let i = b * 32; i < b * 32 + 32; i++) bound += Math.abs(W[v * d + i]) * x.t[b] / 2 + Math.abs(h[r * d + i]) * w.t[b] / 2 + (w.t[b] * x.t[b]) / 4;
      const err = Math.abs(got[r * V + v] - exact[r * V + v]);
      assert.ok(err <= bound * (1 + 1e-5) + 1e-6, `row ${r} v ${v}: error ${err} above the bound ${bound}`);
      worstRatio = Math.max(worstRatio, err / bound);
    }
  }
  assert.ok(worstRatio > 0, 'the int8 product is not the float one (the test would not see a wrong path)');
});

test('int8Head: a Q8_0 head keeps its own codes and scales (exact); a float head is quantised per block by the rule; both tile-packed', () => {
  const V = 45, d = 64;
  const raw = normals(V * d, 11, 1);
  const W = new Float32Array(V * d);
  for (let b = 0; b < (V * d) / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(raw[b * 32 + i]));
    const s = fromHalfBits(toFloat16(new Float32Array([amax / 127])), 'float16')[0];
    for (let i = 0; i < 32; i++) {
      let q = Math.max(-127, Math.min(127, Math.round(raw[b * 32 + i] / (amax / 127))));
      if (i === b % 32) q = 127;
      W[b * 32 + i] = f32(q * s);
    }
  }
  const c = compactHead(W, V, d);
  assert.ok(c, 'the head is in int8 blocks');
  const h = int8Head(c, V, d);
  assert.ok(h.exact);
  assert.is(h.codes.length, Math.ceil(V / 16) * d * 16);
  assert.is(h.scales.length, (Math.ceil(V / 16) * d * 16) / 32);
  for (let v = 0; v < V; v++) for (let i = 0; i < d; i++) assert.is(int8Code(h, v, i) * int8Scale(h, v, i >> 5), W[v * d + i], `v ${v} i ${i}`);
  // padding rows of the last tile: zero codes (stored as 128), zero scales
  for (let v = V; v < Math.ceil(V / 16) * 16; v++) for (let i = 0; i < d; i++) assert.is(int8Code(h, v, i), 0);
  assert.is(int8Head(c, V, d), h, 'made once per head');
  const F = normals(V * d, 12, 0.3);
  const hf = int8Head(F, V, d);
  assert.not.ok(hf.exact);
  for (let v = 0; v < V; v++) {
    const { q, t } = quantise(F, v * d, d);
    for (let i = 0; i < d; i++) assert.is(int8Code(hf, v, i), q[i]);
    for (let b = 0; b < d / 32; b++) assert.is(int8Scale(hf, v, b), t[b]);
  }
});

test('DoLa with head int8 (native and the TypeScript fallback): same choice as the exact head when the divergences are apart, scores within twice the logit bound, the final layer exact', () => {
  const V = 600, d = 64, C = 4;
  for (const rows of [1, 3]) {
    const W = normals(V * d, 40 + rows, 0.3);
    // candidates far apart: scaled noise, so each divergence differs by much more than the quantisation moves it
    const hidden = Array.from({ length: C }, (_, c) => normals(rows * d, 50 + c + rows, 0.3 + 0.5 * c));
    const hf = normals(rows * d, 60 + rows, 1.5);
    for (const backend of [...NATIVE, 'js']) {
      const finalA = new Float32Array(rows * V), finalB = new Float32Array(rows * V);
      const exact = dolaContrast(finalA, { hidden, headWeight: W, hiddenSize: d, finalHidden: hf }, { vocabSize: V, backend });
      const fast = dolaContrast(finalB, { hidden, headWeight: W, hiddenSize: d, finalHidden: hf }, { vocabSize: V, backend, head: 'int8' });
      assert.equal(Array.from(finalB), Array.from(finalA), `${backend}: the final layer's logits are the exact head's`);
      assert.equal(Array.from(fast.chosen), Array.from(exact.chosen), `${backend} rows=${rows}: same premature layer`);
      const zi = candidateLogitsAny(hidden, W, V, d, rows, 'int8', backend);
      const ze = candidateLogitsAny(hidden, W, V, d, rows, 'exact', backend);
      let dz = 0;
      for (let i = 0; i < zi.length; i++) dz = Math.max(dz, Math.abs(zi[i] - ze[i]));
      assert.ok(dz > 0, 'the int8 path was taken');
      for (let i = 0; i < rows * V; i++) {
        if (exact.scores[i] === -Infinity || fast.scores[i] === -Infinity) {
          assert.is(fast.scores[i], exact.scores[i], `${backend}: the same head (final layer exact)`);
          continue;
        }
        // log q moves by at most 2 max|dz| (the logit and its log-sum-exp); float rounding on top
        assert.ok(Math.abs(fast.scores[i] - exact.scores[i]) <= 2 * dz + 1e-4, `${backend} [${i}]: ${fast.scores[i]} vs ${exact.scores[i]} (max logit error ${dz})`);
      }
    }
  }
});

// The candidates' logits of a backend (the js backend: the restatement above, which the fallback must follow).
function candidateLogitsAny(hidden, W, V, d, rows, head, backend) {
  const out = [];
  for (const h of hidden) {
    if (backend === 'js') out.push(...(head === 'int8' ? restated(W, V, d, h, rows).z : headLogits(h, W, { hiddenSize: d, vocabSize: V, backend: 'js' })));
    else out.push(...candidateLogits(h, W, { hiddenSize: d, vocabSize: V, head, backend }));
  }
  return out;
}

test('DoLa head int8: the TypeScript fallback and the native kernels choose alike and agree to float rounding', () => {
  if (NATIVE.length === 0) {
    console.log('  skipped: needs the native addon to compare with');
    return;
  }
  const V = 333, d = 96, rows = 2;
  const W = normals(V * d, 70, 0.3);
  const hidden = [0, 1, 2].map((c) => hiddenRows(rows, d, 80 + c));
  const finalLogits = headLogits(normals(rows * d, 90, 1), W, { hiddenSize: d, vocabSize: V, backend: 'js' });
  const js = dolaContrast(finalLogits, { hidden, headWeight: W, hiddenSize: d }, { vocabSize: V, backend: 'js', head: 'int8' });
  for (const backend of NATIVE) {
    const n = dolaContrast(finalLogits, { hidden, headWeight: W, hiddenSize: d }, { vocabSize: V, backend, head: 'int8' });
    assert.equal(Array.from(n.chosen), Array.from(js.chosen), backend);
    for (let i = 0; i < n.scores.length; i++) {
      if (js.scores[i] === -Infinity) assert.is(n.scores[i], -Infinity);
      else assert.ok(Math.abs(n.scores[i] - js.scores[i]) < 1e-4, `${backend} [${i}]: ${n.scores[i]} vs ${js.scores[i]}`);
    }
  }
});

test('DoLa head option: bad values and forms are refused with a code', () => {
  const V = 64, d = 32;
  const W = normals(V * d, 1, 0.3);
  const h = [normals(d, 2, 1)];
  const f = normals(V, 3, 1);
  assert.throws(() => dolaContrast(f, { hidden: h, headWeight: W, hiddenSize: d }, { vocabSize: V, head: 'int4' }), (e) => e.code === 'ERR_DOLA_ARGUMENT' && /'int4'/.test(e.message));
  assert.throws(() => dolaContrast(f, { logits: [normals(V, 4, 1)] }, { vocabSize: V, head: 'int8' }), (e) => e.code === 'ERR_DOLA_ARGUMENT' && /hidden states/.test(e.message));
  const W48 = normals(V * 48, 5, 0.3);
  assert.throws(() => dolaContrast(f, { hidden: [normals(48, 6, 1)], headWeight: W48, hiddenSize: 48 }, { vocabSize: V, head: 'int8' }), (e) => e.code === 'ERR_DOLA_ARGUMENT' && /multiple of 32/.test(e.message));
});

test.run();
