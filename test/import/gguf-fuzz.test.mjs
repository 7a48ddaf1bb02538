import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GgmlType, GgufError, readGgufBuffer } from 'autocontrast/gguf';
import { T, buildGguf, rng, sharedData } from './helpers.mjs';

// Every mutated input must either parse (and then every tensor must be readable) or throw a
// GgufError with a non-empty message; no other exception, no hang, bounded time per case.
function tryParse(bytes) {
  // CPU time, not wall time: a hang guard that other processes on a busy machine cannot trip.
  const c0 = process.cpuUsage();
  let outcome;
  try {
    const g = readGgufBuffer(bytes);
    for (const t of g.tensors) {
      try {
        g.readTensorFloat32(t);
      } catch (e) {
        if (!(e instanceof GgufError) || !/unsupported tensor type/.test(e.message)) throw e;
      }
    }
    outcome = 'parsed';
  } catch (e) {
    if (!(e instanceof GgufError)) throw new Error(`non-GgufError escaped: ${e && e.stack}`);
    assert.ok(e.message.length > 10, 'message is descriptive');
    outcome = 'error';
  }
  const used = process.cpuUsage(c0);
  const ms = (used.user + used.system) / 1000;
  assert.ok(ms < 2000, `case took ${ms} ms of CPU time`);
  return outcome;
}

function mutate(src, r, limit = src.length) {
  const b = Buffer.from(src);
  const kind = r();
  if (kind < 0.4) {
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) b[Math.floor(r() * limit)] ^= 1 << Math.floor(r() * 8);
    return b;
  }
  if (kind < 0.6) return b.subarray(0, Math.floor(r() * b.length));
  if (kind < 0.8) {
    // overwrite 8 bytes with an extreme value (lengths/counts/offsets)
    const at = Math.floor(r() * Math.max(1, Math.min(limit, b.length - 8)));
    const vals = [0xffffffffffffffffn, 2n ** 63n, 2n ** 32n, 0n, BigInt(b.length), 2n ** 53n];
    if (at + 8 <= b.length) b.writeBigUInt64LE(vals[Math.floor(r() * vals.length)], at);
    return b;
  }
  const at = Math.floor(r() * limit);
  b.fill(Math.floor(r() * 256), at, Math.min(b.length, at + 1 + Math.floor(r() * 16)));
  return b;
}

function fuzz(name, src, cases, seed, limit = src.length) {
  const r = rng(seed);
  const counts = { parsed: 0, error: 0 };
  const t0 = Date.now();
  for (let i = 0; i < cases; i++) counts[tryParse(mutate(src, r, limit))]++;
  console.log(`  fuzz ${name}: ${cases} cases, ${counts.parsed} parsed, ${counts.error} clear errors, ${Date.now() - t0} ms`);
  assert.ok(counts.error > 0);
}

test('fuzz: synthetic headers with every value type and quantised tensors', () => {
  const { bytes } = buildGguf({
    kvs: [
      ['general.architecture', T.STR, 'llama'],
      ['n', T.U32, 5], ['f', T.F32, 0.5], ['b', T.BOOL, true], ['big', T.U64, 1n << 40n],
      ['toks', T.ARR, { type: T.STR, values: ['a', 'bb', 'ccc', '<0x0A>'] }],
      ['scores', T.ARR, { type: T.F32, values: [0, -1, -2, -3] }],
      ['nested', T.ARR, { type: T.ARR, values: [{ type: T.I16, values: [1, 2] }] }],
    ],
    tensors: [
      { name: 'f32', dims: [4, 2], type: GgmlType.F32, data: Buffer.alloc(32, 1) },
      { name: 'q4', dims: [64], type: GgmlType.Q4_0, data: Buffer.alloc(36, 0x11) },
      { name: 'q6k', dims: [256], type: GgmlType.Q6_K, data: Buffer.alloc(210, 0x22) },
    ],
  });
  assert.is(tryParse(bytes), 'parsed');
  fuzz('synthetic', bytes, 3000, 1234);
});

test('fuzz: header of a real GGUF (stories260K, tensor data cut to keep it fast)', () => {
  const dir = sharedData('GGUF fuzz on stories260K');
  if (!dir) return;
  const file = path.join(dir, 'gguf', 'models', 'stories260K.gguf');
  const real = fs.readFileSync(file);
  assert.is(tryParse(real), 'parsed');
  // mutations confined to the header (data starts at byte 14176); truncations anywhere
  fuzz('stories260K', real, 400, 99, 14176);
});

test.run();
