import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeSafetensors, parseSafetensorsHeader, SafetensorsCheckpoint, SafetensorsError, SafetensorsFile } from 'autocontrast/safetensors';
import { graph } from './hf-checkpoints.mjs';
import { tempDir } from './helpers.mjs';

const vals = Float32Array.from([0, 1, -2.5, 0.333333, 65504, -1e-3, 3.140625, 100]);

test('F32 / F16 / BF16 round trip (exact for representable values, rounded otherwise), metadata kept', () => {
  const file = path.join(tempDir(), 'a.safetensors');
  fs.writeFileSync(file, encodeSafetensors(new Map([
    ['f32', { shape: [2, 4], data: vals }],
    ['f16', { shape: [8], data: vals, dtype: 'F16' }],
    ['bf16', { shape: [4, 2], data: vals, dtype: 'BF16' }],
  ]), { format: 'pt' }));
  const f = SafetensorsFile.open(file);
  try {
    assert.equal(f.metadata, { format: 'pt' });
    assert.equal(f.info('bf16').shape, [4, 2]);
    assert.equal(Array.from(f.readFloat32('f32')), Array.from(vals));
    const h = f.readFloat32('f16');
    const b = f.readFloat32('bf16');
    for (let i = 0; i < vals.length; i++) {
      assert.ok(Math.abs(h[i] - vals[i]) <= Math.abs(vals[i]) * 2 ** -11 + 1e-7, `f16 ${i}: ${h[i]}`);
      assert.ok(Math.abs(b[i] - vals[i]) <= Math.abs(vals[i]) * 2 ** -8, `bf16 ${i}: ${b[i]}`);
    }
    assert.is(h[2], -2.5);
    assert.is(b[6], 3.140625);
  } finally {
    f.close();
  }
});

test('header checks: offsets past the data, size/shape mismatch, unknown dtype, non-float dtype read', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  assert.is(parseSafetensorsHeader({ a: ok }, 16, 24).tensors[0].offset, 16);
  assert.throws(() => parseSafetensorsHeader({ a: ok }, 16, 20), /truncated/);
  assert.throws(() => parseSafetensorsHeader({ a: { ...ok, shape: [3] } }, 16, 40), /needs 12/);
  assert.throws(() => parseSafetensorsHeader({ a: { ...ok, dtype: 'Q4' } }, 16, 40), /unknown dtype/);
  assert.throws(() => parseSafetensorsHeader({ a: { ...ok, data_offsets: [8, 0] } }, 16, 40), /invalid data_offsets/);
  assert.throws(() => parseSafetensorsHeader([1], 16, 40), /not a JSON object/);
  const file = path.join(tempDir(), 'i.safetensors');
  const hdr = Buffer.from(JSON.stringify({ i: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  fs.writeFileSync(file, Buffer.concat([len, hdr, Buffer.alloc(4)]));
  const f = SafetensorsFile.open(file);
  assert.throws(() => f.readFloat32('i'), (e) => e instanceof SafetensorsError && /dtype I32/.test(e.message));
  f.close();
});

test('random truncations and byte flips never crash with anything but SafetensorsError', () => {
  const good = encodeSafetensors(new Map([['w', { shape: [4, 4], data: new Float32Array(16).fill(1) }], ['b', { shape: [4], data: vals.subarray(0, 4) }]]));
  const rand = graph.mulberry32(1);
  const file = path.join(tempDir(), 'f.safetensors');
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(good);
    const cut = rand() < 0.5 ? Math.floor(rand() * b.length) : b.length;
    for (let k = 0; k < 3; k++) b[Math.floor(rand() * Math.min(cut, 120))] = Math.floor(rand() * 256);
    fs.writeFileSync(file, b.subarray(0, cut));
    try {
      const f = SafetensorsFile.open(file);
      for (const n of f.tensors.keys()) try { f.readFloat32(n); } catch (e) { if (!(e instanceof SafetensorsError)) throw e; }
      f.close();
    } catch (e) {
      assert.instance(e, SafetensorsError, String(e));
    }
  }
});

test('sharded checkpoint: missing shard and missing weights are clear errors', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors' } }));
  assert.throws(() => SafetensorsCheckpoint.open(dir), /shard model-00001-of-00002.safetensors listed in the index is missing/);
  assert.throws(() => SafetensorsCheckpoint.open(tempDir()), /no model.safetensors/);
});

test.run();
