// The int8-block head projection (native/kernels/q8_head.h, the runtime's 8-bit output head): every instruction
// set against the scalar path and a float64 restatement of sum_i code x scale x h; a row's logits the same bits
// whatever the number of rows beside it and the thread count; the float32 head it reproduces gives the same
// products (headLogits); and the binding's checks of every argument.
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';
import { q8Head } from '../helpers/q8-head.mjs';

const { nativeInfo, headLogits } = lib;
const info = nativeInfo();
const addon = info.path ? createRequire(import.meta.url)(info.path) : null;
if (!addon) console.log('  skipped: the native addon is not built (the 8-bit head kernel is native only)');

function reference64(codes, scales, h, V, d, rows) {
  const z = new Float64Array(rows * V);
  for (let r = 0; r < rows; r++)
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += codes[v * d + i] * scales[(v * d + i) >> 5] * h[r * d + i];
      z[r * V + v] = s;
    }
  return z;
}

const worstRel = (got, want) => want.reduce((m, w, i) => Math.max(m, Math.abs(got[i] - w) / (1 + Math.abs(w))), 0);
const project = (head, h, V, d, rows, extra = {}) =>
  addon.q8HeadProject({ codes: head.codes, scales: head.scales, vocab: V, hiddenSize: d, hidden: h, rows, out: new Float32Array(rows * V), ...extra });

const ISAS = addon ? ['scalar', ...['avx2', 'avx512'].filter((i) => addon.isas().includes(i))] : [];
const CASES = [
  { V: 1001, d: 576, rows: 1 },
  { V: 257, d: 64, rows: 3 },
  { V: 130, d: 32, rows: 9 },
  { V: 3, d: 96, rows: 5 },
];

for (const isa of ISAS) {
  test(`q8 head ${isa}: float64 restatement, scalar path, rows and threads (${CASES.map((c) => `V=${c.V} d=${c.d} R=${c.rows}`).join('; ')})`, () => {
    assert.is(addon.q8HeadIsa({ isa }), isa, `the ${isa} table runs`);
    for (const { V, d, rows } of CASES) {
      const head = q8Head(V, d, V + d);
      const h = normals(rows * d, 7 + rows);
      const got = project(head, h, V, d, rows, { isa });
      const want = reference64(head.codes, head.scales, h, V, d, rows);
      assert.ok(worstRel(got, want) < 2e-5, `${isa} V=${V} d=${d} R=${rows}: vs float64 ${worstRel(got, want)}`);
      const scalar = project(head, h, V, d, rows, { isa: 'scalar' });
      assert.ok(worstRel(got, Float64Array.from(scalar)) < 2e-5, `${isa} vs scalar`);
      // each row alone gives the same bits as among the others, and one thread the same as the pool
      for (let r = 0; r < rows; r++) {
        const alone = project(head, h.slice(r * d, (r + 1) * d), V, d, 1, { isa, threads: 1 });
        assert.equal(Array.from(alone), Array.from(got.subarray(r * V, (r + 1) * V)), `${isa} V=${V} d=${d}: row ${r} alone vs among ${rows}`);
      }
    }
  });
}

test('q8 head: the products of the float32 head it reproduces (headLogits on code x scale)', () => {
  if (!addon) return;
  const V = 777, d = 576, rows = 2;
  const head = q8Head(V, d, 3);
  const W = Float32Array.from(head.codes, (q, i) => q * head.scales[i >> 5]);
  const h = normals(rows * d, 4);
  const floatHead = headLogits(h, W, { hiddenSize: d, vocabSize: V });
  const got = project(head, h, V, d, rows);
  assert.ok(worstRel(got, Float64Array.from(floatHead)) < 2e-5, `vs the float32 head ${worstRel(got, Float64Array.from(floatHead))}`);
});

test('q8 head binding: every argument is checked, with a code', () => {
  if (!addon) return;
  const V = 5, d = 32, rows = 2;
  const head = q8Head(V, d, 1);
  const good = () => ({ codes: head.codes, scales: head.scales, vocab: V, hiddenSize: d, hidden: new Float32Array(rows * d), rows, out: new Float32Array(rows * V) });
  const bad = (patch, kind, code, msg) => {
    const req = { ...good(), ...patch };
    for (const k of Object.keys(patch)) if (patch[k] === undefined) delete req[k];
    try {
      addon.q8HeadProject(req);
    } catch (e) {
      assert.instance(e, kind, `${JSON.stringify(Object.keys(patch))}: ${e.message}`);
      assert.is(e.code, code, `${Object.keys(patch)}: code`);
      if (msg) assert.match(e.message, msg);
      return;
    }
    assert.unreachable(`${Object.keys(patch)} was accepted`);
  };
  assert.is(project(head, new Float32Array(rows * d), V, d, rows).length, rows * V, 'the good request runs');
  bad({ codes: undefined }, TypeError, 'ERR_INVALID_ARG_TYPE', /codes/);
  bad({ codes: new Uint8Array(V * d) }, TypeError, 'ERR_INVALID_ARG_TYPE', /codes/);
  bad({ codes: new Int8Array(V * d - 1) }, RangeError, 'ERR_OUT_OF_RANGE', /codes/);
  bad({ scales: new Float64Array(V) }, TypeError, 'ERR_INVALID_ARG_TYPE', /scales/);
  bad({ scales: new Float32Array(V + 1) }, RangeError, 'ERR_OUT_OF_RANGE', /scales/);
  bad({ scales: Float32Array.from(head.scales, (s, i) => (i === 2 ? NaN : s)) }, RangeError, 'ERR_OUT_OF_RANGE', /finite/);
  bad({ hidden: new Float32Array(rows * d + 1) }, RangeError, 'ERR_OUT_OF_RANGE', /hidden/);
  bad({ hidden: [1, 2] }, TypeError, 'ERR_INVALID_ARG_TYPE', /hidden/);
  bad({ out: new Float32Array(rows * V - 1) }, RangeError, 'ERR_OUT_OF_RANGE', /out/);
  bad({ out: undefined }, TypeError, 'ERR_INVALID_ARG_TYPE', /out/);
  bad({ vocab: 0 }, RangeError, 'ERR_OUT_OF_RANGE', /vocab/);
  bad({ vocab: 1.5 }, TypeError, 'ERR_INVALID_ARG_TYPE', /vocab/);
  bad({ rows: 0 }, RangeError, 'ERR_OUT_OF_RANGE', /rows/);
  bad({ hiddenSize: 48, codes: new Int8Array(V * 48), scales: new Float32Array(V * 48 / 32) }, RangeError, 'ERR_OUT_OF_RANGE', /multiple of 32/);
  bad({ threads: -1 }, RangeError, 'ERR_OUT_OF_RANGE', /threads/);
  bad({ isa: 'mmx' }, RangeError, 'ERR_OUT_OF_RANGE', /mmx/);
  const shared = new Float32Array(rows * d + rows * V);
  bad({ hidden: shared.subarray(0, rows * d), out: shared.subarray(rows * d - 1, rows * d - 1 + rows * V) }, RangeError, 'ERR_OUT_OF_RANGE', /share memory/);
  assert.throws(() => addon.q8HeadProject(), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE', 'no request object');
});

test.run();
