// Small cases whose answers are worked out by hand from the paper's definitions, for every backend and dtype.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';

const { acdLogProbs, cdScores, contrast, availableBackends, toFloat16, toBfloat16 } = lib;
const ln = Math.log;

// p_e = [1/2, 1/4, 1/8, 1/8]; amateur chosen so that z_e - z_a = [0, ln 2, ., .] on the head.
const expert = [ln(4), ln(2), ln(1), ln(1)];
const amateur = [ln(4), ln(1), 0, 0];

// dtypes: values above are not exact in 16 bits, so half inputs are compared with a looser tolerance.
const DTYPES = [
  ['float32', (v) => Float32Array.from(v), 1e-6],
  ['float16', (v) => toFloat16(v), 2e-3],
  ['bfloat16', (v) => toBfloat16(v), 2e-2],
];

function close(actual, expected, tol, what) {
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], a = actual[i];
    if (e === -Infinity) assert.is(a, -Infinity, `${what}[${i}]`);
    else assert.ok(Math.abs(Math.exp(a) - Math.exp(e)) <= tol, `${what}[${i}]: got p=${Math.exp(a)}, want ${Math.exp(e)}`);
  }
}

for (const backend of availableBackends()) {
  for (const [dtype, make, tol] of DTYPES) {
    const opt = dtype === 'float32' ? { backend } : { backend, dtype };
    const E = make(expert), A = make(amateur);

    test(`${backend} ${dtype}: ACD redistributes the head mass by the log-ratio`, () => {
      // alpha 0.3: threshold 0.15 keeps {0, 1}, mass 3/4; softmax([0, ln 2]) = [1/3, 2/3].
      const r = contrast(E, A, { ...opt, alpha: 0.3 });
      close(r.logProbs, [ln(0.25), ln(0.5), ln(0.125), ln(0.125)], tol, 'logp');
      assert.is(r.headSize[0], 2);
      assert.ok(Math.abs(r.headMass[0] - 0.75) < tol);
    });

    test(`${backend} ${dtype}: CD normalises the log-ratio over the head, -inf elsewhere`, () => {
      close(cdScores(E, A, { ...opt, alpha: 0.3 }), [ln(1 / 3), ln(2 / 3), -Infinity, -Infinity], tol, 'cd');
    });

    test(`${backend} ${dtype}: CD with beta = 0.5 scores (1 + beta) z_e - beta z_a`, () => {
      // scores [1.5 ln4 - 0.5 ln4, 1.5 ln2] = [ln 4, ln 2^1.5]
      const a = 4, b = 2 ** 1.5;
      close(cdScores(E, A, { ...opt, alpha: 0.3, beta: 0.5 }), [ln(a / (a + b)), ln(b / (a + b)), -Infinity, -Infinity], tol, 'cdb');
    });

    test(`${backend} ${dtype}: alpha = 1 keeps only the arg-max, so p_acd = p_e`, () => {
      const r = contrast(E, A, { ...opt, alpha: 1 });
      close(r.logProbs, [ln(0.5), ln(0.25), ln(0.125), ln(0.125)], tol, 'logp');
      assert.is(r.headSize[0], 1);
    });

    test(`${backend} ${dtype}: minCandidates lowers the threshold to the k-th probability, ties included`, () => {
      // alpha 1 alone keeps 1 token; k = 3 gives threshold p = 1/8, which tokens 2 and 3 both reach.
      const r = contrast(E, A, { ...opt, alpha: 1, minCandidates: 3 });
      assert.is(r.headSize[0], 4);
      assert.ok(Math.abs(r.headMass[0] - 1) < tol);
      // z_e - z_a = [0, ln 2, 0, 0] over all four tokens: softmax = [1, 2, 1, 1] / 5.
      close(r.logProbs, [ln(0.2), ln(0.4), ln(0.2), ln(0.2)], tol, 'logp');
    });

    test(`${backend} ${dtype}: alpha = 0 puts every token in the head`, () => {
      const r = contrast(E, A, { ...opt, alpha: 0 });
      assert.is(r.headSize[0], 4);
      close(r.logProbs, [ln(0.2), ln(0.4), ln(0.2), ln(0.2)], tol, 'logp');
    });

    test(`${backend} ${dtype}: a single-token vocabulary has probability 1`, () => {
      const out = acdLogProbs(make([3]), make([-2]), opt);
      assert.ok(Math.abs(out[0]) < 1e-6);
    });

    test(`${backend} ${dtype}: rows are independent`, () => {
      const two = make([...expert, ...expert.map((x) => x + 5)]);
      const twoA = make([...amateur, ...amateur.map((x) => x - 1)]);
      const r = contrast(two, twoA, { ...opt, alpha: 0.3, vocabSize: 4 });
      assert.is(r.rows, 2);
      close(r.logProbs.subarray(0, 4), [ln(0.25), ln(0.5), ln(0.125), ln(0.125)], tol, 'row0');
      close(r.logProbs.subarray(4), [ln(0.25), ln(0.5), ln(0.125), ln(0.125)], tol * 4, 'row1');
    });
  }
}

test.run();
