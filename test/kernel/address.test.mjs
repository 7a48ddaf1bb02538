// A row's results do not depend on where its arrays sit in memory: the same logits copied to every byte offset
// within 64 bytes (the expert, amateur and output at equal or at different offsets) give bit-identical
// log-probabilities, for every backend, dtype, dense and sparse amateur, and head sizes from 1 to V. (The native
// kernels assign vector lanes and sum blocks by index in the row, never by address: native/kernels/head_ops.inc;
// native/test/test_kernels.cc checks the same per Ops table, the reference path included.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { bits } from '../helpers/determinism.mjs';
import { normals } from '../helpers/random.mjs';

const { acdLogProbs, cdScores, acdLogProbsSparse, availableBackends, toFloat16, toBfloat16 } = lib;

const V = 5000; // several of the kernels' sum blocks (2,048 values with AVX-512)
const ROWS = 2;
const D = 8;
const dtypes = {
  float32: { encode: (x) => x, Type: Float32Array },
  float16: { encode: toFloat16, Type: Uint16Array },
  bfloat16: { encode: toBfloat16, Type: Uint16Array },
};

// A copy of `src` (a typed array) starting `byteOffset` bytes into a fresh buffer.
function at(src, byteOffset) {
  const Type = src.constructor;
  const buf = new ArrayBuffer(byteOffset + src.byteLength + 64);
  const a = new Type(buf, byteOffset, src.length);
  a.set(src);
  return a;
}

// The expert row shaped so that about `head` tokens are within ln(10) of the max (alpha 0.1); alpha 0 for V.
function expertRows(head, seed) {
  const z = normals(ROWS * V, seed, 1);
  for (let r = 0; r < ROWS; r++)
    for (let v = 0; v < V; v++) {
      const i = r * V + v;
      z[i] = v % Math.ceil(V / head) === 0 ? 10 + 0.5 * z[i] : 0.5 * z[i];
    }
  return z;
}

for (const backend of availableBackends()) {
  test(`${backend}: the same rows at every byte offset give the same bits`, () => {
    for (const [dtype, { encode, Type }] of Object.entries(dtypes)) {
      const size = Type.BYTES_PER_ELEMENT;
      for (const head of [1, 17, 1000, 3000, V]) {
        const E = encode(expertRows(head, head)), A = encode(normals(ROWS * V, head + 1, 3));
        const h = normals(ROWS * D, head + 2), W = normals(V * D, head + 3, 0.5);
        const opts = { vocabSize: V, dtype, backend, alpha: head === V ? 0 : 0.1 };
        const want = {};
        for (let off = 0; off < 64; off += size) {
          for (const apart of off === 0 ? [false] : [false, true]) {
            const offA = apart ? (off * 7 + 2 * size) % 64 : off, offO = apart ? (off + 20) % 64 & ~3 : off & ~3;
            const e = at(E, off), a = at(A, offA);
            const out = at(new Float32Array(ROWS * V), offO);
            const got = {
              acd: bits(acdLogProbs(e, a, { ...opts, out })),
              cd: bits(cdScores(e, a, { ...opts, out })),
            };
            if (dtype === 'float32' && head <= 3000) got.sparse = bits(acdLogProbsSparse(e, at(h, offA & ~3), W, { ...opts, out }));
            for (const [k, v] of Object.entries(got)) {
              if (off === 0) want[k] = v;
              else assert.equal(v, want[k], `${dtype} head ${head} ${k}: expert at byte ${off}, amateur at ${offA}, out at ${offO}`);
            }
          }
        }
      }
    }
  });
}

test.run();
