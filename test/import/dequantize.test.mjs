import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  GgmlType, GgufError, bf16ToF32, dequantize, f16ToF32, readQ4Blocks, readQ8Blocks, repackQ4Sequential, unpackQ4Codes,
} from 'autocontrast/gguf';
import { f32ToF16Bits, gauss, rng, roundHalfEven } from './helpers.mjs';

// Quantisers written here from the block definitions (independently of the library's dequantisers).
const half = (x) => f16ToF32(f32ToF16Bits(x)); // value after f16 storage
const putF16 = (buf, at, x) => buf.writeUInt16LE(f32ToF16Bits(x), at);
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

function quantQ8_0(x) {
  const nb = x.length / 32, out = Buffer.alloc(nb * 34);
  for (let b = 0; b < nb; b++) {
    const blk = x.subarray(b * 32, b * 32 + 32);
    const amax = Math.max(...Array.from(blk, Math.abs));
    const d = half(amax / 127);
    putF16(out, b * 34, d);
    for (let j = 0; j < 32; j++) out.writeInt8(d ? clamp(Math.round(blk[j] / d), -128, 127) : 0, b * 34 + 2 + j);
  }
  return out;
}

// Q4_0/Q4_1: 32 values, byte j = code(j) | code(j+16) << 4
function quantQ4(x, withMin) {
  const bb = withMin ? 20 : 18, nb = x.length / 32, out = Buffer.alloc(nb * bb);
  for (let b = 0; b < nb; b++) {
    const blk = Array.from(x.subarray(b * 32, b * 32 + 32));
    let d, m = 0;
    if (withMin) {
      m = half(Math.min(...blk));
      d = half((Math.max(...blk) - m) / 15);
    } else {
      const amax = Math.max(...blk.map(Math.abs));
      d = half(amax / 7.5);
    }
    putF16(out, b * bb, d);
    if (withMin) putF16(out, b * bb + 2, m);
    const code = (v) => (d ? clamp(Math.round(withMin ? (v - m) / d : v / d + 8), 0, 15) : withMin ? 0 : 8);
    for (let j = 0; j < 16; j++) out[b * bb + bb - 16 + j] = code(blk[j]) | (code(blk[j + 16]) << 4);
  }
  return out;
}

// Q4_K / Q5_K scale packing (12 bytes for 8 six-bit scales and mins):
// j<4: byte j = sc | (hi2(sc_{j+4}) << 6), byte j+4 = m | (hi2(m_{j+4}) << 6); byte j+8 = lo4(sc_{j+4}) | lo4(m_{j+4}) << 4
function packScales(sc, mn) {
  const p = Buffer.alloc(12);
  for (let j = 0; j < 4; j++) {
    p[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
    p[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
    p[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
  }
  return p;
}

// Chooses per-sub-block (32 values) 6-bit scale/min and codes with `levels` steps (15 for Q4_K, 31 for Q5_K).
function quantKBlock(blk, levels) {
  const subs = [...Array(8)].map((_, s) => Array.from(blk.subarray(32 * s, 32 * s + 32)));
  const negMins = subs.map((v) => Math.max(0, -Math.min(...v)));
  const dmin = half(Math.max(...negMins) / 63);
  const mn = negMins.map((v) => (dmin ? clamp(Math.round(v / dmin), 0, 63) : 0));
  const tops = subs.map((v, s) => Math.max(...v) + dmin * mn[s]);
  const d = half(Math.max(...tops) / (levels * 63));
  const sc = tops.map((t) => (d ? clamp(Math.ceil(t / (levels * d)), 0, 63) : 0));
  const codes = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    const s = i >> 5, step = d * sc[s];
    codes[i] = step ? clamp(Math.round((blk[i] + dmin * mn[s]) / step), 0, levels) : 0;
  }
  return { d, dmin, sc, mn, codes };
}

function quantQ4_K(x) {
  const nb = x.length / 256, out = Buffer.alloc(nb * 144), meta = [];
  for (let b = 0; b < nb; b++) {
    const q = quantKBlock(x.subarray(256 * b, 256 * b + 256), 15);
    meta.push(q);
    const o = b * 144;
    putF16(out, o, q.d); putF16(out, o + 2, q.dmin);
    packScales(q.sc, q.mn).copy(out, o + 4);
    // element i: sub-block s = i/32; bytes qs[32*(s>>1) + l], low nibble for even s, high for odd
    for (let i = 0; i < 256; i++) {
      const s = i >> 5, l = i & 31;
      out[o + 16 + 32 * (s >> 1) + l] |= (s & 1) ? q.codes[i] << 4 : q.codes[i];
    }
  }
  return { bytes: out, meta };
}

function quantQ5_K(x) {
  const nb = x.length / 256, out = Buffer.alloc(nb * 176), meta = [];
  for (let b = 0; b < nb; b++) {
    const q = quantKBlock(x.subarray(256 * b, 256 * b + 256), 31);
    meta.push(q);
    const o = b * 176;
    putF16(out, o, q.d); putF16(out, o + 2, q.dmin);
    packScales(q.sc, q.mn).copy(out, o + 4);
    // as Q4_K for the low 4 bits; the 5th bit of element i goes to bit s of qh[l]
    for (let i = 0; i < 256; i++) {
      const s = i >> 5, l = i & 31, c = q.codes[i];
      out[o + 48 + 32 * (s >> 1) + l] |= (s & 1) ? (c & 15) << 4 : c & 15;
      if (c & 16) out[o + 16 + l] |= 1 << s;
    }
  }
  return { bytes: out, meta };
}

// Q6_K: 16 sub-blocks of 16 with int8 scales, codes 0..63 (value = d*sc*(code-32)).
// Element i = 128h + 32g + l: low 4 bits in ql[64h + l + 32*(g&1)] (low nibble for g<2, high for g>=2),
// high 2 bits in qh[32h + l] at bit 2g.
function quantQ6_K(x) {
  const nb = x.length / 256, out = Buffer.alloc(nb * 210), meta = [];
  for (let b = 0; b < nb; b++) {
    const blk = x.subarray(256 * b, 256 * b + 256);
    const amax = [...Array(16)].map((_, s) => Math.max(...Array.from(blk.subarray(16 * s, 16 * s + 16), Math.abs)));
    const d = half(Math.max(...amax) / (31 * 127));
    const sc = amax.map((a) => (d ? clamp(Math.ceil(a / (31 * d)), -128, 127) : 0));
    const codes = new Uint8Array(256);
    const o = b * 210;
    for (let i = 0; i < 256; i++) {
      const step = d * sc[i >> 4];
      const c = step ? clamp(Math.round(blk[i] / step) + 32, 0, 63) : 32;
      codes[i] = c;
      const h = i >> 7, p = i & 127, g = p >> 5, l = p & 31;
      out[o + 64 * h + l + 32 * (g & 1)] |= g < 2 ? c & 15 : (c & 15) << 4;
      out[o + 128 + 32 * h + l] |= (c >> 4) << (2 * g);
    }
    sc.forEach((s, i) => out.writeInt8(s, o + 192 + i));
    putF16(out, o + 208, d);
    meta.push({ d, sc, codes });
  }
  return { bytes: out, meta };
}

const randomData = (n, seed) => { const r = rng(seed); return Float32Array.from({ length: n }, () => gauss(r)); };
const maxAbsErr = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('F16 and BF16 conversions: special values and exhaustive round trip', () => {
  assert.is(f16ToF32(0x0000), 0);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.is(f16ToF32(0x3c00), 1);
  assert.is(f16ToF32(0xc000), -2);
  assert.is(f16ToF32(0x7bff), 65504);
  assert.is(f16ToF32(0x0001), 2 ** -24); // smallest subnormal
  assert.is(f16ToF32(0x03ff), 1023 * 2 ** -24); // largest subnormal
  assert.is(f16ToF32(0x0400), 2 ** -14); // smallest normal
  assert.is(f16ToF32(0x7c00), Infinity);
  assert.is(f16ToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)) && Number.isNaN(f16ToF32(0x7c01)));
  for (let h = 0; h < 65536; h++) {
    const v = f16ToF32(h);
    if (!Number.isNaN(v)) assert.is(f32ToF16Bits(v), h, `f16 pattern ${h}`);
  }
  // bf16 = top 16 bits of float32
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (const x of [0, -0, 1, -1.5, 3.140625, 1e-40, Infinity, -Infinity, 2 ** 127, 2 ** -126]) {
    f[0] = x;
    const bits = u[0] >>> 16;
    const expect = new Float32Array(new Uint32Array([bits << 16]).buffer)[0];
    assert.ok(Object.is(bf16ToF32(bits), expect), `bf16 ${x}`);
  }
  assert.ok(Number.isNaN(bf16ToF32(0x7fc0)));
  assert.is(bf16ToF32(0x3f80), 1);
  // whole-tensor paths
  const src = Buffer.alloc(8);
  [0x3c00, 0xc000, 0x7c00, 0x0001].forEach((h, i) => src.writeUInt16LE(h, 2 * i));
  assert.equal(Array.from(dequantize(GgmlType.F16, src, 4)), [1, -2, Infinity, 2 ** -24]);
  const bsrc = Buffer.alloc(6);
  [0x3f80, 0xc040, 0x0000].forEach((h, i) => bsrc.writeUInt16LE(h, 2 * i));
  assert.equal(Array.from(dequantize(GgmlType.BF16, bsrc, 3)), [1, -3, 0]);
  const f32 = Float32Array.from([1.25, -7, 3e38]);
  assert.equal(dequantize(GgmlType.F32, Buffer.from(f32.buffer), 3), f32);
});

test('Q8_0: exact on representable values, error within d/2 on random data', () => {
  // exact: integers in [-127, 127] with scale 1
  const ints = Float32Array.from({ length: 64 }, (_, i) => ((i * 37) % 255) - 127);
  ints[0] = 127; ints[32] = -127;
  assert.equal(dequantize(GgmlType.Q8_0, quantQ8_0(ints), 64), ints);
  const x = randomData(32 * 50, 1);
  const q = quantQ8_0(x);
  const y = dequantize(GgmlType.Q8_0, q, x.length);
  for (let b = 0; b < 50; b++) {
    const d = f16ToF32(q.readUInt16LE(b * 34));
    for (let j = 0; j < 32; j++) assert.ok(Math.abs(y[b * 32 + j] - x[b * 32 + j]) <= d / 2 + 1e-6);
  }
});

test('Q4_0 and Q4_1: exact round trips and error bounds', () => {
  // Q4_0 exact: values (k-8)*0.5 for k in 0..15
  const ex = Float32Array.from({ length: 32 }, (_, i) => ((i % 16) - 8) * 0.5);
  ex[0] = -4; // amax -> d = 4/7.5? use values that the quantiser maps exactly: check via the stored scale
  const q40 = quantQ4(ex, false);
  const d40 = f16ToF32(q40.readUInt16LE(0));
  const back = dequantize(GgmlType.Q4_0, q40, 32);
  for (let j = 0; j < 32; j++) assert.ok(Math.abs(back[j] - ex[j]) <= d40 / 2 + 1e-7);
  // hand-built block: d = 0.25, codes j -> element order check
  const blk = Buffer.alloc(18);
  putF16(blk, 0, 0.25);
  for (let j = 0; j < 16; j++) blk[2 + j] = j | ((15 - j) << 4);
  const hb = dequantize(GgmlType.Q4_0, blk, 32);
  for (let j = 0; j < 16; j++) {
    assert.is(hb[j], (j - 8) * 0.25);
    assert.is(hb[j + 16], (15 - j - 8) * 0.25);
  }
  // Q4_1 exact: min -1, step 0.125
  const ex1 = Float32Array.from({ length: 32 }, (_, i) => -1 + 0.125 * ((i * 7) % 16));
  ex1[0] = -1; ex1[1] = -1 + 15 * 0.125;
  assert.equal(dequantize(GgmlType.Q4_1, quantQ4(ex1, true), 32), ex1);
  for (const withMin of [false, true]) {
    const x = randomData(32 * 40, withMin ? 3 : 2);
    const q = quantQ4(x, withMin);
    const type = withMin ? GgmlType.Q4_1 : GgmlType.Q4_0;
    const y = dequantize(type, q, x.length);
    const bb = withMin ? 20 : 18;
    for (let b = 0; b < 40; b++) {
      const d = f16ToF32(q.readUInt16LE(b * bb));
      const m = withMin ? f16ToF32(q.readUInt16LE(b * bb + 2)) : 0;
      // Q4_0 codes reach only +7 (amax/7.5 scale): clamped top error up to d
      const bound = withMin ? d / 2 + Math.abs(m) * 1e-3 + 1e-6 : d + 1e-6;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(y[b * 32 + j] - x[b * 32 + j]) <= bound, `${type} b${b} j${j}`);
    }
    // raw block reader agrees with dequantisation
    const blocks = readQ4Blocks(type, q, 40);
    for (let b = 0; b < 40; b++) {
      const codes = unpackQ4Codes(blocks, b);
      for (let j = 0; j < 32; j++) {
        const v = withMin ? codes[j] * blocks.scales[b] + blocks.mins[b] : (codes[j] - 8) * blocks.scales[b];
        assert.is(Math.fround(v), y[b * 32 + j]);
      }
    }
    const seq = repackQ4Sequential(blocks.codes);
    const c0 = unpackQ4Codes(blocks, 0);
    for (let i = 0; i < 16; i++) assert.is(seq[i], c0[2 * i] | (c0[2 * i + 1] << 4));
  }
  assert.throws(() => readQ4Blocks(GgmlType.Q8_0, Buffer.alloc(34), 1), /expected Q4_0 or Q4_1/);
});

test('readQ8Blocks: raw Q8_0 codes and scales agree with dequantisation; wrong type or short input refused', () => {
  const x = randomData(32 * 12, 41);
  x[0] = 100; // the block's largest magnitude: code 127
  x[1] = -100;
  const q = quantQ8_0(x);
  const y = dequantize(GgmlType.Q8_0, q, x.length);
  const blocks = readQ8Blocks(GgmlType.Q8_0, q, 12);
  assert.is(blocks.codes.length, 32 * 12);
  assert.ok(blocks.codes.includes(127) && blocks.codes.includes(-127), 'both signs of the extreme code');
  for (let i = 0; i < y.length; i++) assert.is(Math.fround(blocks.codes[i] * blocks.scales[Math.floor(i / 32)]), y[i], `element ${i}`);
  assert.throws(() => readQ8Blocks(GgmlType.Q4_0, Buffer.alloc(18), 1), /expected Q8_0/);
  assert.throws(() => readQ8Blocks(GgmlType.Q8_0, Buffer.alloc(33), 1), /need 34 bytes/);
});

function checkK(type, quant, levels, seed) {
  const x = randomData(256 * 12, seed);
  const { bytes, meta } = quant(x);
  const y = dequantize(type, bytes, x.length);
  let sq = 0;
  for (let b = 0; b < meta.length; b++) {
    const q = meta[b];
    for (let i = 0; i < 256; i++) {
      const k = 256 * b + i;
      // exact formula from the definition: d*sc*code - dmin*min
      const s = i >> 5;
      const expect = q.d * q.sc[s] * q.codes[i] - q.dmin * q.mn[s];
      assert.ok(Math.abs(y[k] - expect) <= 1e-6 * (1 + Math.abs(expect)), `${levels} exact b${b} i${i}: ${y[k]} vs ${expect}`);
      const bound = (q.d * q.sc[s]) / 2 + q.dmin / 2 + 1e-5;
      assert.ok(Math.abs(y[k] - x[k]) <= bound, `error bound b${b} i${i}`);
      sq += (y[k] - x[k]) ** 2;
    }
  }
  return Math.sqrt(sq / x.length);
}

test('Q4_K: definition-exact dequantisation and bounded error', () => {
  const rms = checkK(GgmlType.Q4_K, quantQ4_K, 15, 11);
  assert.ok(rms < 0.15, `rms ${rms}`);
});

test('Q5_K: definition-exact dequantisation and bounded error (better than Q4_K)', () => {
  const rms5 = checkK(GgmlType.Q5_K, quantQ5_K, 31, 12);
  const rms4 = checkK(GgmlType.Q4_K, quantQ4_K, 15, 12);
  assert.ok(rms5 < rms4 * 0.7, `rms5 ${rms5} vs rms4 ${rms4}`);
});

test('Q6_K: definition-exact dequantisation and bounded error', () => {
  const x = randomData(256 * 10, 21);
  const { bytes, meta } = quantQ6_K(x);
  const y = dequantize(GgmlType.Q6_K, bytes, x.length);
  let sq = 0;
  meta.forEach((q, b) => {
    for (let i = 0; i < 256; i++) {
      const k = 256 * b + i;
      const step = q.d * q.sc[i >> 4];
      const expect = step * (q.codes[i] - 32);
      assert.ok(Math.abs(y[k] - expect) <= 1e-6 * (1 + Math.abs(expect)), `exact b${b} i${i}`);
      assert.ok(Math.abs(y[k] - x[k]) <= Math.abs(step) / 2 + 1e-6, `bound b${b} i${i}`);
      sq += (y[k] - x[k]) ** 2;
    }
  });
  assert.ok(Math.sqrt(sq / x.length) < 0.05);
});

test('K-quants: a hand-made block with distinct scales in all 8 sub-blocks (high scale bits used)', () => {
  const sc = [1, 17, 33, 63, 40, 50, 60, 63], mn = [0, 5, 63, 20, 48, 16, 33, 1];
  const blk = Buffer.alloc(144);
  putF16(blk, 0, 0.5); putF16(blk, 2, 0.25);
  packScales(sc, mn).copy(blk, 4);
  for (let l = 0; l < 128; l++) blk[16 + l] = (l * 29) & 0xff;
  const y = dequantize(GgmlType.Q4_K, blk, 256);
  for (let i = 0; i < 256; i++) {
    const s = i >> 5, byte = blk[16 + 32 * (s >> 1) + (i & 31)];
    const code = s & 1 ? byte >> 4 : byte & 15;
    assert.is(y[i], Math.fround(0.5 * sc[s] * code - 0.25 * mn[s]));
  }
});

test('unsupported types and short buffers give clear errors', () => {
  for (const t of [GgmlType.Q5_0, GgmlType.Q2_K, GgmlType.IQ4_XS, GgmlType.I32]) {
    assert.throws(() => dequantize(t, Buffer.alloc(4096), 256), (e) => e instanceof GgufError && /unsupported tensor type/.test(e.message));
  }
  assert.throws(() => dequantize(GgmlType.Q8_0, Buffer.alloc(33), 32), /too short/);
  assert.throws(() => dequantize(GgmlType.Q4_K, Buffer.alloc(144), 100), /not a whole number/);
  assert.throws(() => dequantize(99, Buffer.alloc(4), 1), /unsupported tensor type type 99/);
});

test.run();
