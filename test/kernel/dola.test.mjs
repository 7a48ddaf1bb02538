// Layer selection by divergence (DoLa, amateurLayer 'auto'): every backend against a float64 restatement of
// transformers' `_dola_select_contrast` / `_relative_top_filter`, selection on hand-built distributions, the
// batched projection against per-row products, invariants, transformers' candidate buckets and bad input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';

const { compactHead, dolaContrast, dolaContrastAsync, candidateLogits, headLogits, acdLogProbs, cdScores, dolaBucket, resolveDolaLayers, availableBackends, toFloat16, toBfloat16, fromHalfBits } = lib;
const BACKENDS = availableBackends();
const NATIVE = BACKENDS.filter((b) => b.startsWith('native-'));
if (NATIVE.length === 0) console.log('  (native addon not loaded: only the TypeScript fallback is checked)');
const ALL = [...NATIVE, 'js'];

// ---------- float64 restatement (transformers 4.48, generation/utils.py) ----------
// log_softmax of each row; kl_div(input=log P, target=M, reduction='none').mean(-1) = sum M (log M - log P) / V;
// js = 0.5 (kl1 + kl2); premature = argmax (first on ties); scores = log p_f - log p_c where
// log p_f >= max log p_f + log(0.1), else -inf - (-1e-3) = -inf.
function logSoftmax64(z, off, V) {
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, z[off + i]);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(z[off + i] - m);
  const lse = m + Math.log(s);
  return Float64Array.from({ length: V }, (_, i) => z[off + i] - lse);
}
function reference(finalLogits, candLogits, V, { alpha = 0.1, divergence = 'dola' } = {}) {
  const rows = finalLogits.length / V;
  const out = [];
  for (let r = 0; r < rows; r++) {
    const lp = logSoftmax64(finalLogits, r * V, V);
    const lqs = candLogits.map((z) => logSoftmax64(z, r * V, V));
    const divs = lqs.map((lq) => {
      let kl1 = 0, kl2 = 0, a = 0, b = 0;
      for (let v = 0; v < V; v++) {
        const p = Math.exp(lp[v]), q = Math.exp(lq[v]), m = 0.5 * (p + q);
        if (m > 0) {
          kl1 += m * (Math.log(m) - lp[v]);
          kl2 += m * (Math.log(m) - lq[v]);
        }
        if (p > 0) a += p * (lp[v] - Math.log(m));
        if (q > 0) b += q * (lq[v] - Math.log(m));
      }
      return divergence === 'dola' ? (0.5 * (kl1 + kl2)) / V : 0.5 * (a + b);
    });
    let best = 0;
    for (let c = 1; c < divs.length; c++) if (divs[c] > divs[best]) best = c;
    let mx = -Infinity;
    for (const x of lp) mx = Math.max(mx, x);
    const thr = mx + Math.log(alpha);
    const scores = Array.from(lp, (x, v) => (x < thr ? -Infinity : x - lqs[best][v]));
    out.push({ divs, best, scores });
  }
  return out;
}

function worst(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

// Candidates that differ clearly (scaled and shifted versions of noise), so that the argmax is not a near-tie.
function problem(rows, V, d, C, seed) {
  const W = normals(V * d, seed, 0.3);
  const hidden = Array.from({ length: C }, (_, c) => normals(rows * d, seed + 10 + c, 0.5 + 0.4 * c));
  const hf = normals(rows * d, seed + 99, 1.5);
  const finalLogits = headLogits(hf, W, { hiddenSize: d, vocabSize: V, backend: 'js' });
  const candLogits = hidden.map((h) => headLogits(h, W, { hiddenSize: d, vocabSize: V, backend: 'js' }));
  return { W, hidden, finalLogits, candLogits };
}

for (const backend of ALL) {
  test(`${backend}: divergences, choice and scores equal the float64 restatement of transformers' DoLa`, () => {
    for (const [rows, V, d, C] of [[1, 1000, 32, 4], [3, 517, 24, 3], [2, 4099, 40, 8]]) {
      const { W, hidden, finalLogits, candLogits } = problem(rows, V, d, C, rows * 7 + C);
      for (const divergence of ['dola', 'jsd']) {
        const ref = reference(finalLogits, candLogits, V, { divergence });
        for (const cands of [{ hidden, headWeight: W, hiddenSize: d }, { logits: candLogits }]) {
          const r = dolaContrast(finalLogits, cands, { vocabSize: V, backend, divergence });
          for (let row = 0; row < rows; row++) {
            const want = ref[row];
            for (let c = 0; c < C; c++) {
              const got = r.divergences[row * C + c];
              assert.ok(Math.abs(got - want.divs[c]) <= 1e-5 * Math.abs(want.divs[c]) + 1e-9, `${divergence} row ${row} cand ${c}: ${got} vs ${want.divs[c]}`);
            }
            assert.is(r.chosen[row], want.best, `choice of row ${row}`);
            const got = r.scores.subarray(row * V, (row + 1) * V);
            assert.ok(worst(got, want.scores) < 2e-4, `scores of row ${row}: ${worst(got, want.scores)}`);
            let finite = 0;
            for (const x of got) finite += Number.isFinite(x);
            assert.is(r.headSize[row], finite, 'head size = finite scores');
          }
        }
      }
    }
  });
}

test('selection on hand-built distributions: the farthest candidate wins, the first of equals', () => {
  const V = 4;
  const L = (ps) => Float32Array.from(ps, Math.log);
  const fin = L([0.7, 0.1, 0.1, 0.1]);
  const same = L([0.7, 0.1, 0.1, 0.1]); // divergence 0
  const flat = L([0.25, 0.25, 0.25, 0.25]); // somewhat away
  const other = L([0.01, 0.01, 0.01, 0.97]); // mass on another token: farthest
  for (const backend of ALL) {
    for (const divergence of ['dola', 'jsd']) {
      let r = dolaContrast(fin, { logits: [same, flat, other] }, { backend, divergence });
      assert.is(r.chosen[0], 2, `${backend} ${divergence}`);
      assert.ok(Math.abs(r.divergences[0]) < 1e-7, 'identical distributions diverge by 0');
      assert.ok(r.divergences[1] > 0 && r.divergences[2] > r.divergences[1]);
      r = dolaContrast(fin, { logits: [same, flat] }, { backend, divergence });
      assert.is(r.chosen[0], 1);
      r = dolaContrast(fin, { logits: [other, same, other] }, { backend, divergence });
      assert.is(r.chosen[0], 0, 'equal divergences: the first candidate (torch.argmax)');
      // a shift of the logits is the same distribution
      r = dolaContrast(fin, { logits: [flat, Float32Array.from(other, (x) => x + 5)] }, { backend, divergence });
      assert.is(r.chosen[0], 1);
    }
  }
  // Per row: two rows with different farthest candidates get different layers.
  const fin2 = new Float32Array([...fin, ...L([0.01, 0.01, 0.01, 0.97])]);
  const a = new Float32Array([...other, ...other]);
  const b = new Float32Array([...same, ...same]);
  for (const backend of ALL) {
    const r = dolaContrast(fin2, { logits: [a, b] }, { vocabSize: V, backend });
    assert.equal(Array.from(r.chosen), [0, 1], backend);
  }
});

test('hand-computed: one candidate, DoLa scores on the relative-top head and -Infinity elsewhere', () => {
  // p_f = (0.5, 0.3, 0.15, 0.05); alpha 0.1 keeps p >= 0.05 (all four; 0.05 is exactly at the threshold,
  // compared in log space), alpha 0.5 keeps p >= 0.25 (tokens 0 and 1).
  const pf = [0.5, 0.3, 0.15, 0.05], pc = [0.25, 0.25, 0.25, 0.25];
  const fin = Float32Array.from(pf, Math.log), cand = Float32Array.from(pc, Math.log);
  for (const backend of ALL) {
    const r = dolaContrast(fin, { logits: [cand] }, { backend, alpha: 0.5 });
    assert.is(r.chosen[0], 0);
    assert.ok(Math.abs(r.scores[0] - Math.log(0.5 / 0.25)) < 1e-6);
    assert.ok(Math.abs(r.scores[1] - Math.log(0.3 / 0.25)) < 1e-6);
    assert.is(r.scores[2], -Infinity);
    assert.is(r.scores[3], -Infinity);
    assert.is(r.headSize[0], 2);
    assert.ok(Math.abs(r.headMass[0] - 0.8) < 1e-6);
    const k = dolaContrast(fin, { logits: [cand] }, { backend, alpha: 0.9, minCandidates: 3 });
    assert.is(k.headSize[0], 3, 'minCandidates lowers the threshold to the 3rd largest');
  }
});

test("amateurLayer 'auto' with one candidate equals ACD / CD with that layer as the amateur", () => {
  const { finalLogits, candLogits } = problem(3, 777, 16, 1, 5);
  const want = acdLogProbs(finalLogits, candLogits[0], { vocabSize: 777, alpha: 0.1, backend: 'js' });
  const wantCd = cdScores(finalLogits, candLogits[0], { vocabSize: 777, alpha: 0.1, backend: 'js' });
  for (const backend of ALL) {
    const r = dolaContrast(finalLogits, { logits: candLogits }, { vocabSize: 777, output: 'acd', backend });
    assert.ok(worst(r.scores, want) < 1e-5, `${backend} acd ${worst(r.scores, want)}`);
    const c = dolaContrast(finalLogits, { logits: candLogits }, { vocabSize: 777, output: 'cd', backend });
    assert.ok(worst(c.scores, wantCd) < 1e-5, `${backend} cd`);
  }
});

test("amateurLayer 'auto' (ACD output): sums to 1, tokens outside the head keep log p_final, equals ACD with the chosen layer", () => {
  const V = 2003;
  const { hidden, W, finalLogits, candLogits } = problem(2, V, 24, 5, 11);
  for (const backend of ALL) {
    const r = dolaContrast(finalLogits, { hidden, headWeight: W, hiddenSize: 24 }, { vocabSize: V, output: 'acd', backend });
    for (let row = 0; row < 2; row++) {
      const s = r.scores.subarray(row * V, (row + 1) * V);
      let sum = 0;
      for (const x of s) sum += Math.exp(x);
      assert.ok(Math.abs(sum - 1) < 1e-4, `${backend} sums to ${sum}`);
      const lp = logSoftmax64(finalLogits, row * V, V);
      let mx = -Infinity;
      for (const x of lp) mx = Math.max(mx, x);
      let untouched = 0;
      for (let v = 0; v < V; v++) {
        if (lp[v] < mx + Math.log(0.1)) {
          assert.ok(Math.abs(s[v] - lp[v]) < 1e-5);
          untouched++;
        }
      }
      assert.ok(untouched > 0);
      const c = r.chosen[row];
      const fixed = acdLogProbs(finalLogits.subarray(row * V, (row + 1) * V), candLogits[c].subarray(row * V, (row + 1) * V), { alpha: 0.1, backend: 'js' });
      assert.ok(worst(s, fixed) < 2e-4, `${backend}: auto = ACD with the chosen layer ${c}`);
    }
    // DoLa output: normalised over the head, the scores are a distribution on it
    const d = dolaContrast(finalLogits, { hidden, headWeight: W, hiddenSize: 24 }, { vocabSize: V, backend });
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, d.scores[v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(d.scores[v] - m);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(d.scores[v] - m) / z;
    assert.ok(Math.abs(sum - 1) < 1e-9);
  }
});

test('the batched projection equals per-row products (float32, float16, bfloat16 weights; ragged sizes)', () => {
  if (NATIVE.length === 0) {
    console.log('  skipped: candidateLogits is native only and the addon is not loaded');
    return;
  }
  for (const [V, d, n] of [[67, 13, 5], [1031, 64, 9], [4096, 576, 3], [130, 17, 1]]) {
    const W32 = normals(V * d, V + d, 0.2);
    const h = normals(n * d, n + 1, 1);
    const bias = normals(V, 3, 0.1);
    for (const dtype of ['float32', 'float16', 'bfloat16']) {
      const W = dtype === 'float32' ? W32 : dtype === 'float16' ? toFloat16(W32) : toBfloat16(W32);
      const b = dtype === 'float32' ? bias : dtype === 'float16' ? toFloat16(bias) : toBfloat16(bias);
      const Wf = dtype === 'float32' ? W32 : fromHalfBits(W, dtype);
      const bf = dtype === 'float32' ? bias : fromHalfBits(b, dtype);
      const want = new Float64Array(n * V);
      for (let r = 0; r < n; r++)
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += Wf[v * d + i] * h[r * d + i];
          want[r * V + v] = s + bf[v];
        }
      for (const backend of NATIVE) {
        const got = candidateLogits(h, W, { hiddenSize: d, vocabSize: V, weightDtype: dtype, headBias: b, backend });
        const per = headLogits(h, W, { hiddenSize: d, vocabSize: V, weightDtype: dtype, headBias: b });
        assert.ok(worst(got, want) < 1e-4 * Math.sqrt(d), `${backend} ${dtype} V=${V} d=${d}: ${worst(got, want)}`);
        assert.ok(worst(got, per) < 1e-4 * Math.sqrt(d), `${backend} vs headLogits`);
      }
    }
  }
});

// A head as GGUF Q8_0 dequantises it: per block of 32, a float16 scale times int8 values in [-127, 127].
function q8Head(V, d, seed) {
  const raw = normals(V * d, seed, 1);
  const w = new Float32Array(V * d);
  for (let b = 0; b < (V * d) / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(raw[b * 32 + i]));
    const s = fromHalfBits(toFloat16(new Float32Array([amax / 127 / 40])), 'float16')[0];
    for (let i = 0; i < 32; i++) {
      let q = Math.round(raw[b * 32 + i] / (amax / 127));
      if (i === b % 32) q = raw[b * 32 + i] < 0 ? -127 : 127; // the block's largest magnitude, as Q8_0 has it
      w[b * 32 + i] = Math.fround(q * s);
    }
  }
  return w;
}

test('compactHead: a Q8_0-dequantised head round-trips exactly and projects to the same logits; other heads stay float32', () => {
  const V = 300, d = 64;
  const W = q8Head(V, d, 3);
  const c = compactHead(W, V, d);
  assert.ok(c, 'a Q8_0 head has the int8 block form');
  for (let i = 0; i < W.length; i++) if (c.q8[i] * c.scale[i >> 5] !== W[i]) assert.unreachable(`value ${i} differs`);
  assert.is(compactHead(normals(V * d, 4, 0.1), V, d), null, 'a float head is not forced into int8');
  assert.is(compactHead(W, 400, 48), null, 'hiddenSize not a multiple of 32');
  const { finalLogits } = problem(2, V, d, 1, 8);
  const hidden = [normals(2 * d, 30, 0.3), normals(2 * d, 31, 0.2), normals(2 * d, 32, 0.4)];
  for (const backend of ALL) {
    const a = dolaContrast(finalLogits, { hidden, headWeight: W, hiddenSize: d }, { vocabSize: V, backend });
    const b = dolaContrast(finalLogits, { hidden, headWeight: c, hiddenSize: d }, { vocabSize: V, backend });
    assert.equal(Array.from(b.scores), Array.from(a.scores), `${backend}: identical scores`);
    assert.equal(Array.from(b.chosen), Array.from(a.chosen));
    if (backend !== 'js') {
      const h = normals(5 * d, 9, 1);
      assert.equal(Array.from(candidateLogits(h, c, { hiddenSize: d, vocabSize: V, backend })), Array.from(candidateLogits(h, W, { hiddenSize: d, vocabSize: V, backend })), `${backend} candidateLogits`);
    }
  }
});

test('the int8-block projection at the model\'s shape (d = 576, 8 and 64 rows as batch 1 and 8 with 8 candidates, ragged tails) equals float64 products and the float32 head bit for bit', () => {
  if (NATIVE.length === 0) {
    console.log('  skipped: candidateLogits is native only and the addon is not loaded');
    return;
  }
  const V = 1030, d = 576; // 1030 = 16 blocks of 64 rows + a 6-row tail (not a multiple of the 4-row tiles)
  const W = q8Head(V, d, 21);
  const c = compactHead(W, V, d);
  assert.ok(c, 'a Q8_0 head has the int8 block form');
  for (const n of [8, 64, 13, 1]) {
    const h = normals(n * d, 50 + n, 1);
    const want = new Float64Array(n * V);
    let scale = 0;
    for (let r = 0; r < n; r++)
      for (let v = 0; v < V; v++) {
        let s = 0, a = 0;
        for (let i = 0; i < d; i++) {
          s += W[v * d + i] * h[r * d + i];
          a += Math.abs(W[v * d + i] * h[r * d + i]);
        }
        want[r * V + v] = s;
        scale = Math.max(scale, a);
      }
    for (const backend of NATIVE) {
      for (const threads of [1, 0]) {
        const got = candidateLogits(h, c, { hiddenSize: d, vocabSize: V, backend, threads });
        // float32 accumulation over 576 terms: within a few units of 2^-24 times the sum of magnitudes
        assert.ok(worst(got, want) < 1e-5 * scale, `${backend} n=${n} threads=${threads}: ${worst(got, want)} (sum of |terms| ${scale})`);
        assert.equal(Array.from(got), Array.from(candidateLogits(h, W, { hiddenSize: d, vocabSize: V, backend, threads })), `${backend} n=${n}: int8 blocks = float32 head`);
      }
    }
  }
});

test('finalHidden: the final layer projected in the same pass equals its logits given (float32 and int8-block heads, 1 and 5 rows, every output), written into finalLogits', async () => {
  for (const [rows, V, d, C] of [[1, 1030, 64, 4], [5, 517, 32, 3]]) {
    const { W, hidden } = problem(rows, V, d, C, 70 + rows);
    const hf = normals(rows * d, 80 + rows, 1.5);
    const heads = [W, ...(d % 32 === 0 ? [compactHead(q8Head(V, d, 5), V, d)] : [])];
    for (const head of heads) {
      const Wf = head instanceof Float32Array ? head : Float32Array.from(head.q8, (q, i) => q * head.scale[i >> 5]);
      // the final logits as float64 products of the same head, rounded to float32 (what the kernel stores)
      const want = new Float32Array(rows * V);
      for (let r = 0; r < rows; r++)
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += Wf[v * d + i] * hf[r * d + i];
          want[r * V + v] = s;
        }
      for (const backend of ALL) {
        for (const output of ['dola', 'acd']) {
          const given = dolaContrast(Float32Array.from(want), { hidden, headWeight: head, hiddenSize: d }, { vocabSize: V, backend, output });
          const fin = new Float32Array(rows * V).fill(NaN);
          const fused = await dolaContrastAsync(fin, { hidden, headWeight: head, hiddenSize: d, finalHidden: hf }, { vocabSize: V, backend, output });
          const tag = `${backend} ${output} rows=${rows} ${head instanceof Float32Array ? 'float32' : 'int8 blocks'}`;
          assert.ok(worst(fin, want) < 1e-5, `${tag}: final logits written (${worst(fin, want)})`);
          assert.equal(Array.from(fused.chosen), Array.from(given.chosen), `${tag}: chosen`);
          assert.ok(worst(fused.scores, given.scores) < 1e-4, `${tag}: scores ${worst(fused.scores, given.scores)}`);
          assert.ok(worst(fused.divergences, given.divergences) < 1e-6, `${tag}: divergences`);
          assert.equal(Array.from(fused.headSize), Array.from(given.headSize), `${tag}: head sizes`);
        }
      }
    }
  }
  // bad input: wrong length, a non-finite value, finalLogits sharing memory with out, logits-form candidates
  const V = 40, d = 8;
  const W = normals(V * d, 1, 0.3);
  const hidden = [normals(d, 2, 1)];
  for (const backend of ALL) {
    const fin = new Float32Array(V);
    const code = (f) => {
      try {
        f();
      } catch (e) {
        return e.code;
      }
      return 'no error';
    };
    assert.is(code(() => dolaContrast(fin, { hidden, headWeight: W, hiddenSize: d, finalHidden: new Float32Array(d + 1) }, { vocabSize: V, backend })), 'ERR_DOLA_ARGUMENT', `${backend} length`);
    assert.throws(() => dolaContrast(fin, { hidden, headWeight: W, hiddenSize: d, finalHidden: new Float32Array(d).fill(NaN) }, { vocabSize: V, backend }), /finalHidden but row 0, index 0 is NaN/, `${backend} NaN`);
    const both = new Float32Array(2 * V);
    assert.is(code(() => dolaContrast(both.subarray(0, V), { hidden, headWeight: W, hiddenSize: d, finalHidden: new Float32Array(d) }, { vocabSize: V, backend, out: both.subarray(V / 2, V / 2 + V) })), 'ERR_DOLA_ARGUMENT', `${backend} overlap`);
  }
});

test('SIMD backends agree with the scalar one; async equals sync; one thread equals many', async () => {
  if (NATIVE.length < 2) {
    console.log(`  skipped: only ${NATIVE.join(', ') || 'no native backend'} here, nothing to compare`);
    return;
  }
  const V = 49152, d = 64, C = 8, rows = 2;
  const { W, hidden, finalLogits } = problem(rows, V, d, C, 42);
  const cands = { hidden, headWeight: W, hiddenSize: d };
  const base = dolaContrast(finalLogits, cands, { vocabSize: V, backend: 'native-scalar' });
  for (const backend of NATIVE) {
    for (const threads of [1, 0]) {
      const r = dolaContrast(finalLogits, cands, { vocabSize: V, backend, threads });
      assert.equal(Array.from(r.chosen), Array.from(base.chosen), backend);
      assert.ok(worst(r.divergences, base.divergences) < 1e-5 * Math.max(...base.divergences), `${backend} divergences`);
      assert.ok(worst(r.scores, base.scores) < 1e-3, `${backend} scores ${worst(r.scores, base.scores)}`);
    }
    const a = await dolaContrastAsync(finalLogits, cands, { vocabSize: V, backend });
    const s = dolaContrast(finalLogits, cands, { vocabSize: V, backend });
    assert.equal(Array.from(a.scores), Array.from(s.scores), `${backend} async`);
  }
});

test("candidate buckets equal transformers' rule for several layer counts", () => {
  // Worked out from `_dola_decoding` (transformers 4.48) by hand: tied embeddings start at 2 (N > 2), 1 (N = 2), 0.
  const cases = [
    // N, tied, low, high
    [30, true, [2, 4, 6, 8, 10, 12, 14], [15, 17, 19, 21, 23, 25, 27, 29]],
    [30, false, [0, 2, 4, 6, 8, 10, 12, 14], [15, 17, 19, 21, 23, 25, 27, 29]],
    [12, false, [0, 2, 4], [6, 8, 10]],
    [12, true, [2, 4], [6, 8, 10]],
    [32, false, [0, 2, 4, 6, 8, 10, 12, 14], [16, 18, 20, 22, 24, 26, 28, 30]],
    [40, true, [2, 4, 6, 8, 10, 12, 14, 16, 18], [20, 22, 24, 26, 28, 30, 32, 34, 36, 38]],
    [48, false, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18], [28, 30, 32, 34, 36, 38, 40, 42, 44, 46]],
    [80, true, [2, 4, 6, 8, 10, 12, 14, 16, 18], [60, 62, 64, 66, 68, 70, 72, 74, 76, 78]],
    [4, true, [2], [2]],
    [2, true, [1], [1]],
    [1, true, [0], [0]],
    [3, true, [], [1]],
    [5, false, [0], [2, 4]],
  ];
  for (const [N, tied, low, high] of cases) {
    assert.equal(dolaBucket('low', N, tied), low, `low N=${N} tied=${tied}`);
    assert.equal(dolaBucket('high', N, tied), high, `high N=${N} tied=${tied}`);
  }
});

function throwsCode(fn, code, pattern) {
  try {
    fn();
  } catch (e) {
    assert.is(e.code, code, `code of: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('bad candidate lists: clear errors with codes', () => {
  const all = Array.from({ length: 30 }, (_, i) => i + 1);
  throwsCode(() => resolveDolaLayers('middle', 30, true), 'ERR_DOLA_LAYERS', /'low', 'high' or a list.*'middle'/);
  throwsCode(() => resolveDolaLayers([], 30, true), 'ERR_DOLA_NO_CANDIDATES', /empty/);
  throwsCode(() => resolveDolaLayers([4, 30], 30, true), 'ERR_DOLA_LAYERS', /30, the final layer/);
  throwsCode(() => resolveDolaLayers([31], 30, true), 'ERR_DOLA_LAYERS', /out of range/);
  throwsCode(() => resolveDolaLayers([2.5], 30, true), 'ERR_DOLA_LAYERS', /integer/);
  throwsCode(() => resolveDolaLayers([4, 4], 30, true), 'ERR_DOLA_LAYERS', /twice/);
  throwsCode(() => resolveDolaLayers([0, 4], 30, true, all), 'ERR_DOLA_LAYERS', /no exit at layer 0/);
  throwsCode(() => resolveDolaLayers('low', 3, true), 'ERR_DOLA_NO_CANDIDATES', /no layer/);
  throwsCode(() => resolveDolaLayers('high', 30, true, [15, 16]), 'ERR_DOLA_LAYERS', /17, 19/);
  throwsCode(() => resolveDolaLayers(7, 30, true), 'ERR_DOLA_LAYERS');
  assert.equal(resolveDolaLayers('high', 30, true, all), [15, 17, 19, 21, 23, 25, 27, 29]);
  assert.equal(resolveDolaLayers([29, 3], 30, true, all), [29, 3]);
});

test('bad kernel input: clear errors (native and fallback)', () => {
  const V = 50;
  const fin = normals(V, 1);
  const cand = normals(V, 2);
  for (const backend of ALL) {
    throwsCode(() => dolaContrast(fin, { logits: [] }, { backend }), 'ERR_DOLA_NO_CANDIDATES');
    throwsCode(() => dolaContrast(fin, { logits: [cand.subarray(1)] }, { backend }), 'ERR_DOLA_ARGUMENT', /logits\[0\] holds 49/);
    throwsCode(() => dolaContrast(fin, { logits: [cand] }, { backend, divergence: 'kl' }), 'ERR_DOLA_ARGUMENT');
    throwsCode(() => dolaContrast(fin, { logits: [cand] }, { backend, alpha: 2 }), 'ERR_DOLA_ARGUMENT', /alpha/);
    throwsCode(() => dolaContrast(fin, { logits: [cand] }, { backend, relativeTop: 0.1 }), 'ERR_DOLA_ARGUMENT', /Unknown option 'relativeTop'/);
    throwsCode(() => dolaContrast(fin, { hidden: [new Float32Array(4)], headWeight: new Float32Array(V * 3), hiddenSize: 4 }, { backend }), 'ERR_DOLA_ARGUMENT', /headWeight/);
    const nan = Float32Array.from(cand);
    nan[7] = NaN;
    assert.throws(() => dolaContrast(fin, { logits: [cand, nan] }, { backend }), /candidate logits but row 0, index 7 is NaN/);
    const bad = Float32Array.from(fin);
    bad[3] = Infinity;
    assert.throws(() => dolaContrast(bad, { logits: [cand] }, { backend }), /final logits but row 0, index 3/);
  }
  // a non-finite hidden value: every backend names the candidate, the row and the index within the row
  const hid = [normals(2 * 8, 7, 1), normals(2 * 8, 8, 1)];
  hid[1][8 + 5] = NaN;
  for (const backend of ALL) {
    assert.throws(() => dolaContrast(Float32Array.from({ length: 2 * V }, (_, i) => fin[i % V]), { hidden: hid, headWeight: normals(V * 8, 9, 0.2), hiddenSize: 8 }, { vocabSize: V, backend }), /hidden\[1\] but row 1, index 5 is NaN/, backend);
  }
  // a non-finite head value makes non-finite candidate logits: found in the projection's per-block statistics,
  // reported with the row and vocabulary index of the first one
  const W = normals(V * 8, 5, 0.2);
  W[17 * 8 + 2] = Infinity;
  for (const backend of NATIVE) {
    assert.throws(() => dolaContrast(Float32Array.from({ length: 2 * V }, (_, i) => fin[i % V]), { hidden: [normals(16, 6, 1)], headWeight: W, hiddenSize: 8 }, { vocabSize: V, backend }), /candidate logits but row 0, index 17 is NaN or infinite/);
  }
  // the addon checks again what reaches it directly
  if (NATIVE.length) {
    assert.throws(() => dolaContrast(fin, { logits: [cand] }, { out: fin }), /out must not share memory with finalLogits/);
  }
});

test.run();
