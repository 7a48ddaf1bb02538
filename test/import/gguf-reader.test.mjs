import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GgufError, GgufValueType, GgmlType, readGguf, readGgufBuffer } from 'autocontrast/gguf';
import { T, buildGguf } from './helpers.mjs';

const f32s = (arr) => Buffer.from(new Float32Array(arr).buffer);

function sample(version = 3, alignment = 32) {
  const kvs = [
    ['general.architecture', T.STR, 'llama'],
    ['u8', T.U8, 200], ['i8', T.I8, -100], ['u16', T.U16, 60000], ['i16', T.I16, -30000],
    ['u32', T.U32, 4000000000], ['i32', T.I32, -2000000000], ['f32', T.F32, 1.5], ['f64', T.F64, Math.PI],
    ['u64', T.U64, 2n ** 63n + 5n], ['i64', T.I64, -(2n ** 40n)], ['yes', T.BOOL, true], ['no', T.BOOL, false],
    ['unicode', T.STR, 'Grüße ▁ 🦙'],
    ['arr.str', T.ARR, { type: T.STR, values: ['a', '', 'ü b'] }],
    ['arr.i32', T.ARR, { type: T.I32, values: [1, -2, 3] }],
    ['arr.f32', T.ARR, { type: T.F32, values: [0.5, -0.25] }],
    ['arr.u64', T.ARR, { type: T.U64, values: [1n, 2n ** 60n] }],
    ['arr.bool', T.ARR, { type: T.BOOL, values: [true, false, true] }],
    ['arr.nested', T.ARR, { type: T.ARR, values: [{ type: T.U8, values: [1, 2] }, { type: T.STR, values: ['x'] }] }],
    ['arr.empty', T.ARR, { type: T.F64, values: [] }],
  ];
  if (alignment !== 32) kvs.push(['general.alignment', T.U32, alignment]);
  const tensors = [
    { name: 'a', dims: [3, 2], type: GgmlType.F32, data: f32s([1, 2, 3, 4, 5, 6]) },
    { name: 'b', dims: [5], type: GgmlType.F32, data: f32s([7, 8, 9, 10, 11]) },
  ];
  return buildGguf({ version, kvs, tensors, alignment });
}

for (const version of [2, 3]) {
  test(`parses every value type, tensor table and data (v${version})`, () => {
    const { bytes, dataStart } = sample(version);
    const g = readGgufBuffer(bytes);
    const m = g.metadata;
    assert.is(g.version, version);
    assert.is(g.alignment, 32);
    assert.is(g.dataOffset, dataStart);
    assert.is(g.architecture, 'llama');
    assert.is(m.getNumber('u8'), 200);
    assert.is(m.getNumber('i8'), -100);
    assert.is(m.getNumber('u16'), 60000);
    assert.is(m.getNumber('i16'), -30000);
    assert.is(m.getInteger('u32'), 4000000000);
    assert.is(m.getInteger('i32'), -2000000000);
    assert.is(m.getNumber('f32'), 1.5);
    assert.is(m.getNumber('f64'), Math.PI);
    assert.is(m.get('u64'), 2n ** 63n + 5n);
    assert.is(m.getNumber('i64'), -(2 ** 40));
    assert.throws(() => m.getNumber('u64'), /does not fit/);
    assert.is(m.getBool('yes'), true);
    assert.is(m.getBool('no'), false);
    assert.is(m.getString('unicode'), 'Grüße ▁ 🦙');
    assert.equal(m.getStringArray('arr.str'), ['a', '', 'ü b']);
    assert.equal(m.getNumberArray('arr.i32'), [1, -2, 3]);
    assert.ok(m.getArray('arr.i32').values instanceof Int32Array);
    assert.equal(m.getNumberArray('arr.f32'), [0.5, -0.25]);
    assert.throws(() => m.getNumberArray('arr.u64'), /does not fit/);
    assert.equal(m.getArray('arr.bool').values, [true, false, true]);
    const nested = m.getArray('arr.nested');
    assert.is(nested.elementType, GgufValueType.ARRAY);
    assert.equal(Array.from(nested.values[0].values), [1, 2]);
    assert.equal(nested.values[1].values, ['x']);
    assert.is(m.getArray('arr.empty').values.length, 0);
    // typed getters: wrong type / missing key / fallbacks
    assert.throws(() => m.getString('u8'), /"u8" has type UINT8, expected STRING/);
    assert.throws(() => m.getInteger('f32'), /expected an integer/);
    assert.throws(() => m.getStringArray('arr.i32'), /ARRAY of INT32, expected an ARRAY of STRING/);
    assert.throws(() => m.getString('nope'), /"nope" is missing/);
    assert.is(m.getStringOr('nope', 'x'), 'x');
    assert.is(m.getNumberOr('nope', undefined), undefined);
    // tensors
    assert.is(g.tensors.length, 2);
    const a = g.tensor('a');
    assert.equal(a.dims, [3, 2]);
    assert.equal(a.shape, [2, 3]);
    assert.is(a.rowCount, 2);
    assert.is(a.offset, dataStart);
    assert.equal(Array.from(g.readTensorFloat32('a')), [1, 2, 3, 4, 5, 6]);
    assert.equal(Array.from(g.readRowsFloat32('a', 1, 1)), [4, 5, 6]);
    assert.equal(Array.from(g.readTensorFloat32(g.tensor('b'))), [7, 8, 9, 10, 11]);
    assert.is(g.tensor('b').offset % 32, 0);
    assert.throws(() => g.readRowsFloat32('a', 1, 2), /out of range/);
    assert.throws(() => g.tensor('zzz'), /no tensor "zzz"/);
  });
}

test('custom alignment and reading through a file descriptor', () => {
  const { bytes, dataStart } = sample(3, 64);
  assert.is(dataStart % 64, 0);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-')), 'x.gguf');
  fs.writeFileSync(file, bytes);
  const g = readGguf(file);
  try {
    assert.is(g.alignment, 64);
    assert.is(g.dataOffset, dataStart);
    assert.is(g.tensor('b').offset % 64, 0);
    assert.equal(Array.from(g.readTensorFloat32('b')), [7, 8, 9, 10, 11]);
  } finally {
    g.close();
  }
  assert.throws(() => g.readTensorBytes('b'), /closed/);
  fs.rmSync(path.dirname(file), { recursive: true });
});

test('zero-tensor file whose header runs to the end of the file', () => {
  const { bytes } = buildGguf({ kvs: [['k', T.STR, 'v']] });
  const g = readGgufBuffer(bytes);
  assert.is(g.tensors.length, 0);
  assert.is(g.metadata.getString('k'), 'v');
});

function expectError(bytes, re) {
  try {
    readGgufBuffer(bytes);
  } catch (e) {
    assert.instance(e, GgufError);
    assert.match(e.message, re);
    return;
  }
  assert.unreachable(`expected ${re}`);
}

test('clear errors for bad headers', () => {
  const good = sample().bytes;
  expectError(Buffer.from('GG'), /only 2 bytes/);
  expectError(Buffer.concat([Buffer.from('GGML'), good.subarray(4)]), /bad magic "GGML"/);
  expectError(buildGguf({ version: 1 }).bytes, /unsupported GGUF version 1/);
  expectError(buildGguf({ version: 7 }).bytes, /unsupported GGUF version 7/);
  const be = Buffer.from(good); be.writeUInt32BE(3, 4);
  expectError(be, /big-endian/);
  // truncations at several points
  for (const cut of [6, 12, 20, 30, 60, 200]) expectError(good.subarray(0, cut), /truncated|past the end|more than/);
  // tensor data cut off
  expectError(good.subarray(0, good.length - 4), /tensor "b".*past the end of the file/);
  // absurd counts: kv count 2^60 with a tiny file must fail fast without allocating
  const huge = Buffer.from(good); huge.writeBigUInt64LE(2n ** 60n, 16);
  expectError(huge, /metadata key\/value count is 1152921504606846976.*more than/);
  const hugeT = Buffer.from(good); hugeT.writeBigUInt64LE(2n ** 40n, 8);
  expectError(hugeT, /tensor count/);
  // string longer than the file
  const longStr = buildGguf({ kvs: [['k', T.STR, 'abc']] }).bytes; longStr.writeBigUInt64LE(2n ** 50n, 24 + 8 + 1 + 4);
  expectError(longStr, /length of value of "k"/);
  // array count exceeding the file
  const arr = buildGguf({ kvs: [['k', T.ARR, { type: T.U32, values: [1, 2] }]] }).bytes; arr.writeBigUInt64LE(10n ** 9n, 24 + 8 + 1 + 4 + 4);
  expectError(arr, /array length of "k"/);
  // unknown value types
  expectError(buildGguf({ kvs: [['k', 13, undefined]] }).bytes.subarray(0, 24 + 9 + 4), /unknown value type 13 for metadata key "k"/);
  const badElem = buildGguf({ kvs: [['k', T.ARR, { type: T.U8, values: [1] }]] }).bytes; badElem.writeUInt32LE(99, 24 + 9 + 4);
  expectError(badElem, /unknown array element type 99/);
  // invalid bool, duplicate key, bad alignment
  const badBool = buildGguf({ kvs: [['k', T.BOOL, true]] }).bytes; badBool[badBool.length - 1] = 7;
  expectError(badBool, /BOOL value of "k" is 7/);
  expectError(buildGguf({ kvs: [['k', T.U8, 1], ['k', T.U8, 2]] }).bytes, /duplicate metadata key "k"/);
  expectError(buildGguf({ kvs: [['general.alignment', T.U32, 24]] }).bytes, /power of two/);
  // tensor problems
  const t1 = (over) => buildGguf({ tensors: [{ name: 'w', dims: [32], type: GgmlType.F32, data: Buffer.alloc(128), ...over }] }).bytes;
  expectError(t1({ dims: [1, 1, 1, 1, 1] }), /5 dimensions/);
  expectError(t1({ type: 77 }), /unknown tensor type 77/);
  expectError(t1({ type: GgmlType.Q4_0, dims: [31] }), /not a multiple of its block size 32/);
  expectError(t1({ offset: 8 }), /not a multiple of the alignment/);
  expectError(t1({ offset: 1024 }), /past the end of the file/);
  expectError(t1({ dims: [2 ** 40, 2 ** 20] }), /too many elements|past the end/);
  expectError(buildGguf({ tensors: [{ name: 'w', dims: [1], type: 0, data: Buffer.alloc(4) }, { name: 'w', dims: [1], type: 0, data: Buffer.alloc(4) }] }).bytes, /duplicate tensor name "w"/);
  // deeply nested arrays are refused
  let v = { type: T.U8, values: [1] };
  for (let i = 0; i < 12; i++) v = { type: T.ARR, values: [v] };
  expectError(buildGguf({ kvs: [['deep', T.ARR, v]] }).bytes, /nested more than/);
});

test('unsupported tensor types are listed but cannot be dequantised', () => {
  const { bytes } = buildGguf({ tensors: [{ name: 'q', dims: [32], type: GgmlType.Q5_0, data: Buffer.alloc(22) }] });
  const g = readGgufBuffer(bytes);
  assert.is(g.tensor('q').typeName, 'Q5_0');
  assert.is(g.readTensorBytes('q').length, 22);
  assert.throws(() => g.readTensorFloat32('q'), /unsupported tensor type Q5_0/);
});

test.run();
