// Shared helpers for the importer tests: locating ../shared/data and writing synthetic GGUF files.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared data folder, or null (after printing a skip line) when it is not there. */
export function sharedData(what) {
  const dir = process.env.AUTOCONTRAST_SHARED_DATA
    ? path.resolve(process.env.AUTOCONTRAST_SHARED_DATA)
    : path.resolve(repoRoot, '..', 'shared', 'data');
  if (!fs.existsSync(dir)) {
    console.log(`skipped: ../shared/data not found (${dir}; set AUTOCONTRAST_SHARED_DATA) - ${what}`);
    return null;
  }
  return dir;
}

// GGUF value type tags (from the GGUF specification).
export const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 };

class Out {
  constructor() { this.parts = []; this.len = 0; }
  push(b) { this.parts.push(b); this.len += b.length; }
  u8(v) { const b = Buffer.alloc(1); b.writeUInt8(v); this.push(b); }
  i8(v) { const b = Buffer.alloc(1); b.writeInt8(v); this.push(b); }
  u16(v) { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.push(b); }
  i16(v) { const b = Buffer.alloc(2); b.writeInt16LE(v); this.push(b); }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  f64(v) { const b = Buffer.alloc(8); b.writeDoubleLE(v); this.push(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  i64(v) { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); this.push(b); }
  str(s) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  bytes() { return Buffer.concat(this.parts); }
}

function writeValue(o, type, v) {
  switch (type) {
    case T.U8: return o.u8(v);
    case T.I8: return o.i8(v);
    case T.U16: return o.u16(v);
    case T.I16: return o.i16(v);
    case T.U32: return o.u32(v);
    case T.I32: return o.i32(v);
    case T.F32: return o.f32(v);
    case T.F64: return o.f64(v);
    case T.U64: return o.u64(v);
    case T.I64: return o.i64(v);
    case T.BOOL: return o.u8(v ? 1 : 0);
    case T.STR: return o.str(v);
    case T.ARR: {
      o.u32(v.type);
      o.u64(v.values.length);
      for (const x of v.values) writeValue(o, v.type, x);
      return;
    }
    default: return; // unknown tags (for error tests): no payload
  }
}

/**
 * Writes a GGUF image.
 * kvs: [key, type, value] (arrays: { type, values }); tensors: { name, dims, type, data: Buffer }.
 * Tensor data is laid out in order, each aligned to `alignment`.
 */
export function buildGguf({ version = 3, kvs = [], tensors = [], alignment = 32, magic = 'GGUF' } = {}) {
  const o = new Out();
  o.push(Buffer.from(magic, 'latin1'));
  o.u32(version);
  o.u64(tensors.length);
  o.u64(kvs.length);
  for (const [k, type, v] of kvs) { o.str(k); o.u32(type); writeValue(o, type, v); }
  let off = 0;
  const offsets = [];
  for (const t of tensors) {
    off = Math.ceil(off / alignment) * alignment;
    offsets.push(off);
    off += t.data.length;
  }
  tensors.forEach((t, i) => {
    o.str(t.name); o.u32(t.dims.length); for (const d of t.dims) o.u64(d); o.u32(t.type); o.u64(t.offset ?? offsets[i]);
  });
  const headerLen = o.len;
  const dataStart = tensors.length ? Math.ceil(headerLen / alignment) * alignment : headerLen;
  o.push(Buffer.alloc(dataStart - headerLen));
  let pos = 0;
  tensors.forEach((t, i) => { o.push(Buffer.alloc(offsets[i] - pos)); o.push(t.data); pos = offsets[i] + t.data.length; });
  return { bytes: o.bytes(), dataStart, headerLen, offsets };
}

/** float32 -> IEEE binary16 bits, round to nearest even (written from the format definition). */
export function f32ToF16Bits(x) {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a >= 65520) return sign | 0x7c00;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  if (e < -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (1024 carries into the exponent)
  return sign | (((e + 15) << 10) + roundHalfEven((a / 2 ** e - 1) * 1024));
}

export function roundHalfEven(v) {
  const f = Math.floor(v);
  const r = v - f;
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample from a uniform PRNG. */
export function gauss(r) {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}
