/**
 * Writes float32 tensors as a safetensors file (used by tests and tools that produce exit heads).
 */
import { promises as fs } from 'node:fs';

/** A tensor to write. */
export interface SafetensorsInput {
  /** Row-major shape. */
  readonly shape: readonly number[];
  /** Values (F32, written as given). */
  readonly data: Float32Array;
  /** Stored dtype (default F32; F16/BF16 round to nearest even). */
  readonly dtype?: 'F32' | 'F16' | 'BF16';
}

function f32Bits(x: number): number {
  const b = new Float32Array([x]);
  return new Uint32Array(b.buffer)[0];
}

function toBf16(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function toF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return sign | (((e + 15) << 10) + roundEven((a / 2 ** e - 1) * 1024));
}

function roundEven(v: number): number {
  const f = Math.floor(v);
  const r = v - f;
  if (r !== 0.5) return r > 0.5 ? f + 1 : f;
  return f % 2 === 0 ? f : f + 1;
}

function encode(t: SafetensorsInput): Buffer {
  const dtype = t.dtype ?? 'F32';
  if (dtype === 'F32') return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = Buffer.alloc(t.data.length * 2);
  for (let i = 0; i < t.data.length; i++) out.writeUInt16LE(dtype === 'F16' ? toF16(t.data[i]) : toBf16(t.data[i]), i * 2);
  return out;
}

/** The bytes of a safetensors file holding `tensors` (in insertion order). */
export function encodeSafetensors(tensors: ReadonlyMap<string, SafetensorsInput>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const parts: Buffer[] = [];
  let at = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new RangeError(`tensor ${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const bytes = encode(t);
    header[name] = { dtype: t.dtype ?? 'F32', shape: [...t.shape], data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...parts]);
}

/** Writes `tensors` to `file` as safetensors. */
export async function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  await fs.writeFile(file, encodeSafetensors(tensors, metadata));
}
