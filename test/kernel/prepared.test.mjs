// The pre-validated call form (createContrast / createSparseContrast): the same results as the plain functions,
// bit for bit, and the same errors for bad arrays and bad data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';
import { createRequire } from 'node:module';

const { acdLogProbs, cdScores, contrast, acdLogProbsSparse, cdScoresSparse, createContrast, createSparseContrast, availableBackends, toFloat16, toBfloat16 } = lib;

function errorOf(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

// Both calls fail with the same class and message.
function sameError(plain, prepared, what) {
  const a = errorOf(plain), b = errorOf(prepared);
  assert.ok(a, `${what}: the plain function did not throw`);
  assert.ok(b, `${what}: the prepared form did not throw`);
  assert.is(b.constructor, a.constructor, `${what}: ${b.constructor.name} vs ${a.constructor.name}: ${b.message} / ${a.message}`);
  assert.is(b.message, a.message, what);
}

function throwsLike(fn, Kind, pattern, what) {
  const e = errorOf(fn);
  assert.ok(e, `${what}: did not throw`);
  assert.instance(e, Kind, `${what}: got ${e.constructor.name}: ${e.message}`);
  assert.match(e.message, pattern, what);
}

const encode = { float32: (x) => x, float16: toFloat16, bfloat16: toBfloat16 };

for (const backend of availableBackends()) {
  test(`${backend}: run() equals the plain functions bit for bit (dtypes, rows, modes, options)`, () => {
    let seed = 1;
    for (const dtype of ['float32', 'float16', 'bfloat16'])
      for (const [V, rows] of [[50257, 1], [1000, 3], [16, 8], [1, 2]])
        for (const opts of [{}, { mode: 'cd' }, { alpha: 0 }, { alpha: 0.5, minCandidates: Math.min(V, 5) }, { mode: 'cd', beta: 0.5, alpha: 0.01 }]) {
          const E = encode[dtype](normals(rows * V, seed++, 3)), A = encode[dtype](normals(rows * V, seed++, 3));
          const { mode = 'acd', ...fnOpts } = opts;
          const common = { backend, vocabSize: V, dtype, ...fnOpts };
          const want = contrast(E, A, { ...common, mode });
          const plain = (mode === 'cd' ? cdScores : acdLogProbs)(E, A, common);
          const c = createContrast({ ...common, rows, mode });
          const got = c.run(E, A);
          const what = `${dtype} V=${V} rows=${rows} ${JSON.stringify(opts)}`;
          assert.equal(Array.from(got), Array.from(plain), what);
          assert.equal(Array.from(c.headSize), Array.from(want.headSize), `${what}: headSize`);
          assert.equal(Array.from(c.headMass), Array.from(want.headMass), `${what}: headMass`);
          const out = new Float32Array(rows * V);
          assert.is(c.run(E, A, out), out, `${what}: returns out`);
          assert.equal(Array.from(out), Array.from(plain), `${what}: into out`);
          assert.is(c.run(E, A), got, `${what}: without out, the object's own buffer each time`);
          assert.is(c.rows, rows);
          assert.is(c.vocabSize, V);
          assert.is(c.backend, backend);
        }
  });

  test(`${backend}: sparse run() equals acdLogProbsSparse / cdScoresSparse`, () => {
    const V = 3000, d = 48, rows = 2;
    for (const mode of ['acd', 'cd']) {
      const E = normals(rows * V, 11, 3), h = normals(rows * d, 12, 1), W = normals(V * d, 13, 0.3), b = normals(V, 14, 0.5);
      const opts = { backend, vocabSize: V, alpha: 0.05, headBias: b };
      const plain = (mode === 'cd' ? cdScoresSparse : acdLogProbsSparse)(E, h, W, opts);
      const c = createSparseContrast({ ...opts, rows, mode, headWeight: W });
      assert.is(c.hiddenSize, d);
      assert.equal(Array.from(c.run(E, h)), Array.from(plain), mode);
      const hBad = h.slice();
      hBad[d + 3] = NaN;
      sameError(() => acdLogProbsSparse(E, hBad, W, opts), () => c.run(E, hBad), 'NaN in hidden');
      throwsLike(() => c.run(E, h.subarray(1)), RangeError, /hidden.*elements/, 'hidden length');
    }
  });

  test(`${backend}: the same errors as the functions`, () => {
    const V = 40, rows = 2, n = rows * V;
    const E = normals(n, 21, 2), A = normals(n, 22, 2);
    const opt = { backend, vocabSize: V };
    const c = createContrast({ ...opt, rows });
    // Non-finite data: the kernel's message, naming the array, row and index.
    for (const [name, at, value] of [['expert', 3, NaN], ['expert', V + 7, Infinity], ['amateur', 0, -Infinity], ['amateur', V + 39, NaN]]) {
      const e2 = E.slice(), a2 = A.slice();
      (name === 'expert' ? e2 : a2)[at] = value;
      sameError(() => acdLogProbs(e2, a2, opt), () => c.run(e2, a2), `${name}[${at}] = ${value}`);
    }
    // Bad buffers: the same messages as the functions' type checks.
    sameError(() => acdLogProbs([1, 2], A, opt), () => c.run([1, 2], A), 'plain array expert');
    sameError(() => acdLogProbs(new Float64Array(n), A, opt), () => c.run(new Float64Array(n), A), 'Float64Array expert');
    sameError(() => acdLogProbs(E, 'x', opt), () => c.run(E, 'x'), 'string amateur');
    // out is run()'s own argument, so its message names it `out` (the functions: `options.out`).
    throwsLike(() => c.run(E, A, new Float64Array(n)), TypeError, /^Expected out to be a Float32Array but received Float64Array$/, 'Float64Array out');
    sameError(() => acdLogProbs(toFloat16(E), A, { ...opt, dtype: 'float16' }), () => createContrast({ ...opt, rows, dtype: 'float16' }).run(toFloat16(E), A), 'dtype mismatch');
    // Wrong lengths: RangeErrors naming the array and the expected count.
    throwsLike(() => c.run(E.subarray(1), A), RangeError, /expert to have 80 elements/, 'short expert');
    throwsLike(() => c.run(E, A.subarray(0, V)), RangeError, /amateur to have 80 elements/, 'short amateur');
    throwsLike(() => c.run(E, A, new Float32Array(n + 1)), RangeError, /out to have 80 elements/, 'long out');
    // Overlapping output and input is refused.
    throwsLike(() => c.run(E, A, E), RangeError, /share memory|overlap/, 'out aliasing expert');
    // Bad options: the functions' checks and messages.
    for (const bad of [{ alpha: 2 }, { alpha: '0.1' }, { minCandidates: 0 }, { minCandidates: V + 1 }, { beta: -1 }, { dtype: 'int8' }, { threads: -1 }, { backend: 'native-nope' }, { vocabSize: 0 }, { vocabSize: 2.5 }, { bogus: 1 }])
      sameError(() => acdLogProbs(E, A, { ...opt, ...bad }), () => createContrast({ ...opt, ...bad }), JSON.stringify(bad));
    throwsLike(() => createContrast({ ...opt, rows: 0 }), RangeError, /options\.rows/, 'rows 0');
    throwsLike(() => createContrast({ ...opt, mode: 'xcd' }), TypeError, /options\.mode/, 'mode');
    throwsLike(() => createContrast({ ...opt, device: 'cuda' }), TypeError, /device/, 'device');
    throwsLike(() => createContrast(null), TypeError, /options/, 'null options');
    throwsLike(() => createContrast({}), TypeError, /vocabSize/, 'no vocabSize');
  });
}

test('native: contrastRun refuses anything but a prepared contrast', async () => {
  const { nativeInfo } = lib;
  const info = nativeInfo();
  if (!info.path) {
    console.log('  (skipped: no native addon loaded)');
    return;
  }
  const { createRequire } = await import('node:module');
  const native = createRequire(import.meta.url)(info.path);
  const f = (k) => new Float32Array(k);
  for (const fake of [{}, null, 1, f(4), native]) throwsLike(() => native.contrastRun(fake, f(4), f(4), f(4), new Int32Array(1), f(1)), TypeError, /prepared contrast/, String(fake));
  const p = native.contrastPrepare({ dtype: 0, vocab: 4, rows: 1, mode: 0, alpha: 0.1, minCandidates: 1 });
  throwsLike(() => native.contrastRun(p, f(3), f(4), f(4), new Int32Array(1), f(1)), RangeError, /expert/, 'native length check');
  throwsLike(() => native.contrastRun(p, f(4), f(4), f(4), new Int32Array(2), f(1)), RangeError, /headSize/, 'native headSize length');
  throwsLike(() => native.contrastRun(p, f(4), new Uint16Array(4), f(4), new Int32Array(1), f(1)), TypeError, /amateur/, 'native type check');
});

// The plain dense functions run through native prepared contrasts kept per recent parameter set (src/kernel/
// contrast.ts): with more parameter sets than it keeps, interleaved, every call must still equal the addon's
// own request path (native.contrast, which parses the whole request), values and head statistics.
test('plain functions: the same as the addon request path over many interleaved option sets', () => {
  const info = lib.nativeInfo();
  if (!info.path) {
    console.log('  skipped: the native addon is not loaded');
    return;
  }
  const native = createRequire(import.meta.url)(info.path);
  const V = 300, rows = 2;
  const E = normals(rows * V, 71, 3), A = normals(rows * V, 72, 3);
  const sets = [];
  for (const isa of native.isas())
    for (const o of [{}, { alpha: 0 }, { alpha: 0.3 }, { alpha: 0.3, minCandidates: 40 }, { mode: 'cd' }, { mode: 'cd', beta: 0.25 }, { threads: 1 }])
      sets.push({ isa, ...o });
  for (let round = 0; round < 2; round++)
    for (const s of sets) {
      const { isa, mode = 'acd', threads, ...o } = s;
      const headSize = new Int32Array(rows), headMass = new Float32Array(rows);
      const got = (mode === 'cd' ? cdScores : acdLogProbs)(E, A, { ...o, threads, vocabSize: V, backend: `native-${isa}`, headSize, headMass });
      const req = {
        expert: E, amateur: A, dtype: 0, rows, vocab: V, mode: mode === 'cd' ? 1 : 0, alpha: o.alpha ?? 0.1,
        minCandidates: o.minCandidates ?? 1, ...(o.beta === undefined ? {} : { beta: o.beta }), ...(threads === undefined ? {} : { threads }),
        out: new Float32Array(rows * V), headSize: new Int32Array(rows), headMass: new Float32Array(rows), isa,
      };
      native.contrast(req);
      const what = `round ${round} ${JSON.stringify(s)}`;
      // (the first differing index, not a diff of the arrays: uvu's diff of long arrays takes minutes)
      const firstDiff = (a, b) => a.findIndex((x, i) => !Object.is(x, b[i]));
      assert.is(firstDiff(got, req.out), -1, `${what}: log-probabilities`);
      assert.is(firstDiff(headSize, req.headSize), -1, `${what}: headSize`);
      assert.is(firstDiff(headMass, req.headMass), -1, `${what}: headMass`);
    }
});

test.run();
