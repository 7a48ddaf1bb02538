// Bad input gets a TypeError or RangeError that says what was wrong, never a crash or a silent answer:
// fixed cases for each rule, then a seeded fuzz over random shapes, types and NaN/Inf placement.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { createRequire } from 'node:module';
import { rng } from '../helpers/random.mjs';

const { acdLogProbs, cdScores, acdLogProbsSparse, acdLogProbsAsync, availableBackends } = lib;
const f = (n, v = 0) => new Float32Array(n).fill(v);

function throwsLike(fn, Kind, pattern, what) {
  try {
    fn();
  } catch (e) {
    assert.instance(e, Kind, `${what}: got ${e && e.constructor && e.constructor.name}: ${e && e.message}`);
    assert.match(e.message, pattern, what);
    return;
  }
  assert.unreachable(`${what}: did not throw`);
}

for (const backend of availableBackends()) {
  const o = { backend };
  test(`${backend}: each argument rule has a clear error`, () => {
    throwsLike(() => acdLogProbs(f(0), f(0), o), RangeError, /empty/, 'empty input');
    throwsLike(() => acdLogProbs([1, 2], f(2), o), TypeError, /expert.*Float32Array.*Array/, 'plain array');
    throwsLike(() => acdLogProbs(new Float64Array(2), f(2), o), TypeError, /Float64Array/, 'Float64Array');
    throwsLike(() => acdLogProbs(f(4), f(3), o), RangeError, /amateur.*4 elements/, 'length mismatch');
    throwsLike(() => acdLogProbs(f(10), f(10), { ...o, vocabSize: 3 }), RangeError, /multiple of vocabSize/, 'ragged rows');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, vocabSize: 0 }), RangeError, /vocabSize in \[1/, 'vocab 0');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, vocabSize: 2.5 }), TypeError, /integer/, 'vocab fractional');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, alpha: 1.5 }), RangeError, /alpha in \[0, 1\]/, 'alpha > 1');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, alpha: -0.1 }), RangeError, /alpha/, 'alpha < 0');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, alpha: NaN }), RangeError, /alpha/, 'alpha NaN');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, alpha: '0.1' }), TypeError, /alpha/, 'alpha string');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, minCandidates: 0 }), RangeError, /minCandidates in \[1, 4\]/, 'k = 0');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, minCandidates: 5 }), RangeError, /minCandidates/, 'k > V');
    throwsLike(() => cdScores(f(4), f(4), { ...o, beta: -1 }), RangeError, /beta/, 'beta < 0');
    throwsLike(() => cdScores(f(4), f(4), { ...o, beta: Infinity }), RangeError, /beta/, 'beta inf');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, out: f(3) }), RangeError, /out.*4 elements/, 'out length');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, out: new Float64Array(4) }), TypeError, /out/, 'out type');
    throwsLike(() => acdLogProbs(new Uint16Array(4), new Uint16Array(4), o), TypeError, /dtype/, 'Uint16Array without dtype');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, dtype: 'float16' }), TypeError, /Uint16Array/, 'dtype mismatch');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, dtype: 'fp8' }), TypeError, /dtype/, 'unknown dtype');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, alhpa: 0.2 }), TypeError, /Unknown option 'alhpa'/, 'typo option');
    throwsLike(() => acdLogProbs(f(4), f(4), 7), TypeError, /options/, 'options not object');
    throwsLike(() => acdLogProbs(f(4), f(4), { ...o, headSize: new Int32Array(2) }), RangeError, /headSize/, 'headSize length');
    throwsLike(() => acdLogProbs(f(4), f(4), { backend: 'native-avx9' }), TypeError, /backend/, 'unknown backend');
    const nan = f(4); nan[2] = NaN;
    throwsLike(() => acdLogProbs(nan, f(4), o), RangeError, /expert logits.*row 0, index 2/, 'NaN expert');
    const inf = f(8); inf[7] = -Infinity;
    throwsLike(() => acdLogProbs(f(8), inf, { ...o, vocabSize: 4 }), RangeError, /amateur logits.*row 1, index 3/, '-inf amateur');
    const h = f(2); h[1] = Infinity;
    throwsLike(() => acdLogProbsSparse(f(3), h, f(6), o), RangeError, /hidden.*index 1/, 'inf hidden');
    throwsLike(() => acdLogProbsSparse(f(3), f(2), f(5), o), RangeError, /headWeight/, 'head shape');
  });

  test(`${backend}: output sharing memory with an input is refused`, () => {
    const buf = f(8);
    if (backend === 'js') return; // the fallback copies nothing either, but aliasing is checked natively
    throwsLike(() => acdLogProbs(buf.subarray(0, 4), f(4), { ...o, out: buf.subarray(2, 6) }), RangeError, /share memory/, 'aliasing');
  });
}

test('async variant rejects with the same errors', async () => {
  const nan = f(4); nan[0] = NaN;
  try {
    await acdLogProbsAsync(nan, f(4));
    assert.unreachable('no rejection');
  } catch (e) {
    assert.instance(e, RangeError);
    assert.match(e.message, /expert logits.*index 0/);
  }
});

// Random calls: each either returns a finite distribution or throws TypeError/RangeError; never anything else.
test('fuzz: random shapes, types and NaN/Inf placement', () => {
  const r = rng(2024);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const makers = [
    (n) => new Float32Array(n).map(() => (r() - 0.5) * 20),
    (n) => new Uint16Array(n).map(() => 0x3c00 + Math.floor(r() * 512)),
    (n) => new Float64Array(n),
    (n) => new Int32Array(n),
    (n) => Array.from({ length: n }, () => r()),
    () => null,
    () => 'logits',
  ];
  let ok = 0, rejected = 0;
  for (let i = 0; i < 600; i++) {
    const V = pick([1, 2, 3, 16, 100, 1000]);
    const rows = pick([1, 2, 3]);
    const valid = () => r() < 0.85;
    const n = valid() ? V * rows : pick([V * rows + 1, 0]);
    const E = (valid() ? makers[0] : pick(makers))(n);
    const A = r() < 0.8 && E && E.constructor ? new E.constructor(E.length) : pick(makers)(n);
    if (E instanceof Float32Array && r() < 0.15 && n) E[Math.floor(r() * n)] = pick([NaN, Infinity, -Infinity]);
    if (A instanceof Float32Array && r() < 0.1 && A.length) A[Math.floor(r() * A.length)] = pick([NaN, Infinity]);
    const options = {
      vocabSize: valid() ? V : pick([undefined, 0, -1, 1.5, 1e12]),
      alpha: valid() ? pick([0, 0.1, 1, undefined]) : pick([2, -1, NaN]),
      minCandidates: valid() ? pick([1, 2, V, undefined]) : pick([V + 1, 0]),
      dtype: E instanceof Uint16Array ? pick(['float16', 'bfloat16', undefined]) : valid() ? undefined : 'float16',
      backend: pick(availableBackends()),
    };
    for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
    try {
      const out = (r() < 0.5 ? acdLogProbs : cdScores)(E, A, options);
      assert.instance(out, Float32Array);
      for (const x of out) assert.ok(!Number.isNaN(x) && x <= 1e-6, 'log-probabilities are <= 0 and not NaN');
      ok++;
    } catch (e) {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `unexpected ${e && e.constructor && e.constructor.name}: ${e && e.message}`);
      assert.ok(e.message.length > 10);
      rejected++;
    }
  }
  assert.ok(ok > 20 && rejected > 100, `ok ${ok}, rejected ${rejected}`);
});

test('the native addon itself validates requests that bypass the TypeScript layer', () => {
  const { nativeInfo } = lib;
  const info = nativeInfo();
  if (!info.path) {
    console.log('  skipped: native addon not loaded');
    return;
  }
  const native = createRequire(import.meta.url)(info.path);
  const good = { expert: f(4), amateur: f(4), dtype: 0, rows: 1, vocab: 4, mode: 0, alpha: 0.1, minCandidates: 1, out: f(4) };
  assert.instance(native.contrast(good), Float32Array);
  const bad = [
    [{ ...good, rows: 2 }, RangeError, /expert.*8 elements/],
    [{ ...good, dtype: 1 }, TypeError, /Uint16Array/],
    [{ ...good, dtype: 7 }, RangeError, /dtype/],
    [{ ...good, amateur: undefined }, TypeError, /amateur/],
    [{ ...good, out: new Float32Array(2) }, RangeError, /out/],
    [{ ...good, alpha: 3 }, RangeError, /alpha/],
    [{ ...good, mode: 'acd' }, TypeError, /mode/],
    [{ ...good, minCandidates: 9 }, RangeError, /minCandidates/],
    [{ ...good, vocab: -1 }, RangeError, /vocab/],
    [{ ...good, isa: 'avx9000' }, RangeError, /avx9000/],
    [{ ...good, out: good.expert }, RangeError, /share memory/],
  ];
  for (const [req, Kind, pattern] of bad) throwsLike(() => native.contrast(req), Kind, pattern, JSON.stringify(Object.keys(req)));
  throwsLike(() => native.contrast(), TypeError, /request object/, 'no argument');
  throwsLike(() => native.contrastSparse({ ...good, hidden: f(2), hiddenSize: 2, headWeight: f(7), weightDtype: 0 }), RangeError, /headWeight/, 'sparse');
});

test.run();
