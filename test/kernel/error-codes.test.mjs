// Errors crossing the N-API boundary carry stable codes: the addon's argument checks (which JavaScript
// normally never reaches, since the TypeScript layer checks first) throw TypeError / RangeError with Node's
// ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE; the TypeScript checks carry the same codes.
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';

const require = createRequire(import.meta.url);
const info = lib.nativeInfo();
const addon = info.path ? require(info.path) : null;
if (!addon) console.log(`skipped: native addon not loaded (${info.errors.join('; ')})`);

const caught = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
};

test('the addon throws coded argument errors', () => {
  if (!addon) return;
  const base = { expert: new Float32Array(4), amateur: new Float32Array(4), dtype: 0, rows: 1, vocab: 4, mode: 0, alpha: 0.1, minCandidates: 1, out: new Float32Array(4) };
  let e = caught(() => addon.contrast({ ...base, expert: [1, 2, 3, 4] }));
  assert.instance(e, TypeError);
  assert.is(e.code, 'ERR_INVALID_ARG_TYPE');
  e = caught(() => addon.contrast({ ...base, alpha: 2 }));
  assert.instance(e, RangeError);
  assert.is(e.code, 'ERR_OUT_OF_RANGE');
  e = caught(() => addon.contrast({ ...base, minCandidates: 9 }));
  assert.instance(e, RangeError);
  assert.is(e.code, 'ERR_OUT_OF_RANGE');
});

test('the TypeScript kernel API throws the same classes with the same codes', () => {
  let e = caught(() => lib.acdLogProbs(new Float32Array(4), new Float32Array(4), { alpha: 2 }));
  assert.instance(e, RangeError);
  assert.is(e.code, 'ERR_OUT_OF_RANGE');
  e = caught(() => lib.acdLogProbs([1, 2], new Float32Array(2)));
  assert.instance(e, TypeError);
  assert.is(e.code, 'ERR_INVALID_ARG_TYPE');
});

test.run();
