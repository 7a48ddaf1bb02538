// The plausibility head at its edge (issue 11, item 5). The published rule keeps v when p_e[v] >= alpha x max p_e,
// ties included. The library decides it in logit space, z_e[v] >= max z_e + ln(alpha) (one float32 threshold per
// row); the reference package computes float32 probabilities (softmax, then alpha x max, each rounded), which can
// drop a token that sits a few ulp above the cut-off. Concrete rows below: the exact rule (float64) keeps the token,
// the reference's float32 arithmetic drops it, every backend of the library keeps it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';

const { contrast, availableBackends } = lib;
const f = Math.fround;
const ALPHA = 0.1;

/**
 * The reference's head (autocontrastive-gen 0.2.0, `calculate_contrasted_logits`) restated in float32 arithmetic,
 * each operation rounded once: p = softmax(z) (exp of z - max, sum, divide), threshold = max p x float32(alpha),
 * kept where p >= threshold.
 */
function referenceKeeps(z, alpha) {
  const m = Math.max(...z);
  const e = z.map((x) => f(Math.exp(f(x - m))));
  let s = 0;
  for (const x of e) s = f(s + x);
  const p = e.map((x) => f(x / s));
  const thr = f(Math.max(...p) * f(alpha));
  return { keeps: p.map((x) => x >= thr), p, thr };
}

// Found by a search over small rows with PyTorch 2.13 (CPU): torch.softmax gives the same p and threshold as the
// restatement for both rows (p[1] 0.053225435, threshold 0.053225439 in each), so both drop token 1.
const ROWS = [
  { z: [3.0, 0.6974149346351624, 2.75], ulpsAbove: 1 },
  { z: [2.0, -0.30258503556251526, 1.75], ulpsAbove: 3 },
];

/** The library's float32 threshold for a row with maximum m (native/kernels/contrast.cc, src/kernel/fallback.ts). */
const libraryThreshold = (m, alpha) => f(m + f(Math.log(f(alpha))));

/** The next float32 above x (x > 0 or x < 0, not 0). */
function nextUp(x) {
  const b = new Float32Array([x]);
  const u = new Int32Array(b.buffer);
  u[0] += x > 0 ? 1 : -1;
  return b[0];
}

for (const { z, ulpsAbove } of ROWS) {
  test(`token ${ulpsAbove} ulp above the cut-off: exact rule keeps it, the reference's float32 drops it, the library keeps it`, () => {
    const m = Math.max(...z);
    // exact rule in float64: p[1] / max p = exp(z1 - m) >= alpha, by a margin of a few float32 ulp
    const ratio = Math.exp(z[1] - m);
    assert.ok(ratio >= ALPHA, `exact ratio ${ratio}`);
    assert.ok((ratio - ALPHA) / ALPHA < 1e-6, `the token should sit near the cut-off (ratio ${ratio})`);
    let t = libraryThreshold(m, ALPHA);
    for (let k = 0; k < ulpsAbove; k++) t = nextUp(t);
    assert.is(f(z[1]), t, `token 1 is ${ulpsAbove} float32 ulp above the library's threshold`);
    const ref = referenceKeeps(z, ALPHA);
    assert.equal(ref.keeps, [true, false, true], `reference p ${ref.p} threshold ${ref.thr}`);
    for (const backend of availableBackends()) {
      const r = contrast(Float32Array.from(z), Float32Array.from([0, -5, 0]), { alpha: ALPHA, backend });
      assert.is(r.headSize[0], 3, `${backend}: head size`);
      // in the head the token's probability is redistributed; outside it would keep the expert's own log-prob
      const expertLogP = z[1] - (m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0)));
      assert.ok(Math.abs(r.logProbs[1] - expertLogP) > 1e-3, `${backend}: token 1 was contrasted`);
    }
  });
}

test('a tie with the threshold is in the head (>=), one ulp below it is not', () => {
  const m = 1.5;
  const thr = libraryThreshold(m, ALPHA);
  const below = new Float32Array([thr]);
  new Int32Array(below.buffer)[0] += thr > 0 ? -1 : 1;
  for (const backend of availableBackends()) {
    assert.is(contrast(Float32Array.from([m, thr, -20]), new Float32Array(3), { alpha: ALPHA, backend }).headSize[0], 2, `${backend}: tie`);
    assert.is(contrast(Float32Array.from([m, below[0], -20]), new Float32Array(3), { alpha: ALPHA, backend }).headSize[0], 1, `${backend}: below`);
  }
});

test('the library never drops a token the exact rule keeps (alpha 0.1: float32 ln(alpha) rounds below ln(0.1))', () => {
  // Its threshold fl(m + fl(ln fl(alpha))): fl(ln fl(0.1)) is below ln(0.1) as a real number, so the rounded sum is
  // at most the first float32 at or above m + ln(0.1): every float32 logit the exact rule keeps passes it.
  assert.ok(f(Math.log(f(ALPHA))) < Math.log(ALPHA));
  let checked = 0;
  for (let m = -40; m <= 40; m += 0.37) {
    const mf = f(m);
    const thr = libraryThreshold(mf, ALPHA);
    // the float32 values around the exact cut-off mf + ln(alpha)
    let x = f(mf + Math.log(ALPHA));
    for (let k = 0; k < 4; k++) x = new Float32Array([x - Math.abs(x) * 2 ** -22])[0];
    for (let k = 0; k < 10; k++, x = nextUp(x)) {
      const exact = Math.exp(x - mf) >= ALPHA;
      if (exact) assert.ok(x >= thr, `m ${mf}: ${x} kept by the exact rule, below the threshold ${thr}`);
      checked++;
    }
  }
  assert.ok(checked > 1000);
});
test.run();
