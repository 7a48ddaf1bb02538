/**
 * Reader for the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`), then the tensor
 * bytes (offsets relative to the end of the header). Tensors are read on demand, one at a time.
 */
import { AutocontrastError } from '../../errors';
import * as fs from 'node:fs';
import { GgmlType } from '../import/gguf/tensor-types';
import { dequantize } from '../import/gguf/dequantize/index';

/** A malformed, truncated or unsupported safetensors file. */
export class SafetensorsError extends AutocontrastError {
  /** @param message one clear line. */
  constructor(message: string, options?: { cause?: unknown }) {
    super('AC_SAFETENSORS', message, options);
    this.name = 'SafetensorsError';
  }
}

/** Element types this reader converts to float32. */
export const SAFETENSORS_FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8,
  F8_E4M3: 1, F8_E5M2: 1,
};

/** Largest header accepted (the format's own limit is 100 MB). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

/** One tensor's entry in the header. */
export interface SafetensorsTensorInfo {
  /** Tensor name. */
  readonly name: string;
  /** Element type tag (F32, F16, BF16, ...). */
  readonly dtype: string;
  /** Row-major shape. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  /** Byte length of the data. */
  readonly byteLength: number;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and checks a header object against the data area size; exported for tests and fuzzing. */
export function parseSafetensorsHeader(
  json: unknown,
  dataStart: number,
  fileSize: number,
  file = 'safetensors file',
): { tensors: SafetensorsTensorInfo[]; metadata: Record<string, string> } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(`${file}: header is not a JSON object`);
  }
  const tensors: SafetensorsTensorInfo[] = [];
  let metadata: Record<string, string> = {};
  const dataSize = fileSize - dataStart;
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw === 'object' && raw !== null) metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof e !== 'object' || e === null) throw new SafetensorsError(`${file}: tensor "${name}" entry is not an object`);
    const { dtype, shape, data_offsets: offs } = e;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new SafetensorsError(`${file}: tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new SafetensorsError(`${file}: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !isCount(offs[0]) || !isCount(offs[1]) || offs[1] < offs[0]) {
      throw new SafetensorsError(`${file}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const byteLength = offs[1] - offs[0];
    if (byteLength !== count * DTYPE_BYTES[dtype]) {
      throw new SafetensorsError(
        `${file}: tensor "${name}" holds ${byteLength} bytes but ${dtype} [${(shape as number[]).join(', ')}] needs ${count * DTYPE_BYTES[dtype]}`,
      );
    }
    if (offs[1] > dataSize) {
      throw new SafetensorsError(
        `${file}: tensor "${name}" ends at byte ${offs[1]} of the data area but the file has only ${dataSize} (truncated?)`,
      );
    }
    tensors.push({ name, dtype, shape: shape as number[], offset: dataStart + offs[0], byteLength });
  }
  return { tensors, metadata };
}

/** An opened safetensors file (a file descriptor; tensors are read on demand). Call {@link close}. */
export class SafetensorsFile {
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The `__metadata__` strings. */
  readonly metadata: Readonly<Record<string, string>>;
  private fd: number | null;

  private constructor(readonly path: string, fd: number, tensors: SafetensorsTensorInfo[], metadata: Record<string, string>) {
    this.fd = fd;
    this.tensors = new Map(tensors.map((t) => [t.name, t]));
    this.metadata = metadata;
  }

  /**
   * Opens `path` and parses its header.
   * @throws {SafetensorsError} for malformed or truncated files.
   */
  static open(path: string): SafetensorsFile {
    const fd = fs.openSync(path, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(`${path}: ${size} bytes is too short for a safetensors file`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const n = lenBuf.readBigUInt64LE(0);
      if (n > BigInt(MAX_SAFETENSORS_HEADER) || Number(n) + 8 > size) {
        throw new SafetensorsError(`${path}: header length ${n} does not fit the ${size}-byte file (truncated or not safetensors)`);
      }
      const headerBuf = Buffer.alloc(Number(n));
      fs.readSync(fd, headerBuf, 0, headerBuf.length, 8);
      let json: unknown;
      try {
        json = JSON.parse(headerBuf.toString('utf8'));
      } catch {
        throw new SafetensorsError(`${path}: header is not valid JSON (corrupt or not safetensors)`);
      }
      const { tensors, metadata } = parseSafetensorsHeader(json, 8 + Number(n), size, path);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** The entry of tensor `name`; throws when absent. */
  info(name: string): SafetensorsTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(`${this.path}: no tensor "${name}"`);
    return t;
  }

  /** The raw bytes of a tensor. */
  readBytes(name: string): Buffer {
    const t = this.info(name);
    if (this.fd === null) throw new SafetensorsError(`${this.path}: file is closed`);
    const buf = Buffer.alloc(t.byteLength);
    let done = 0;
    while (done < t.byteLength) {
      const got = fs.readSync(this.fd, buf, done, t.byteLength - done, t.offset + done);
      if (got === 0) throw new SafetensorsError(`${this.path}: unexpected end of file reading "${name}"`);
      done += got;
    }
    return buf;
  }

  /**
   * A float tensor (F32, F16 or BF16) as float32.
   * @throws {SafetensorsError} for other dtypes.
   */
  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const type = t.dtype === 'F32' ? GgmlType.F32 : t.dtype === 'F16' ? GgmlType.F16 : t.dtype === 'BF16' ? GgmlType.BF16 : -1;
    if (type < 0) {
      throw new SafetensorsError(`${this.path}: tensor "${name}" has dtype ${t.dtype} (supported: ${SAFETENSORS_FLOAT_DTYPES.join(', ')})`);
    }
    return dequantize(type, this.readBytes(name), count);
  }

  /** Closes the file descriptor. */
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
