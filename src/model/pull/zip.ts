/**
 * A small ZIP reader (enough for Python wheels): reads the central directory and extracts one
 * member, stored or deflated, streaming it to a file with a CRC-32 check.
 */
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { PullError } from './pull-error';

/** One member of a ZIP archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  /** Compressed size. */
  readonly compressedSize: number;
  /** Uncompressed size. */
  readonly size: number;
  /** CRC-32 of the uncompressed data. */
  readonly crc32: number;
  /** Offset of the local file header. */
  readonly localHeaderOffset: number;
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const got = fs.readSync(fd, b, 0, len, pos);
  if (got !== len) throw new PullError('zip: unexpected end of file');
  return b;
}

/** Lists the members of the ZIP file `file`. */
export function listZip(file: string): ZipEntry[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tailLen = Math.min(size, 65535 + 22);
    const tail = readAt(fd, size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new PullError(`${file}: not a zip archive (no end of central directory)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) throw new PullError(`${file}: ZIP64 archives are not supported`);
    if (cdOffset + cdSize > size) throw new PullError(`${file}: corrupt zip (central directory out of range)`);
    const cd = readAt(fd, cdOffset, cdSize);
    const out: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new PullError(`${file}: corrupt zip central directory`);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      out.push({
        method: cd.readUInt16LE(p + 10),
        crc32: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
        name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

function crcCheck(expected: number, name: string, onBytes?: (n: number) => void): Transform {
  const crc32 = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  let v = 0;
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (crc32) v = crc32(chunk, v);
      n += chunk.length;
      onBytes?.(n);
      cb(null, chunk);
    },
    flush(cb) {
      if (crc32 && v >>> 0 !== expected >>> 0) cb(new PullError(`zip member ${name}: CRC-32 mismatch (corrupt download)`));
      else cb();
    },
  });
}

/** Extracts member `entry` of `file` to `dest` (streamed); `onProgress` gets the bytes written and `entry.size`. */
export async function extractZipEntry(file: string, entry: ZipEntry, dest: string, onProgress?: (done: number, total: number) => void): Promise<void> {
  const fd = fs.openSync(file, 'r');
  let dataStart: number;
  try {
    const h = readAt(fd, entry.localHeaderOffset, 30);
    if (h.readUInt32LE(0) !== 0x04034b50) throw new PullError(`${file}: corrupt zip local header for ${entry.name}`);
    dataStart = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  } finally {
    fs.closeSync(fd);
  }
  if (entry.method !== 0 && entry.method !== 8) throw new PullError(`${file}: zip compression method ${entry.method} is not supported`);
  const src = fs.createReadStream(file, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
  const out = fs.createWriteStream(dest);
  const check = crcCheck(entry.crc32, entry.name, onProgress && ((n) => onProgress(n, entry.size)));
  onProgress?.(0, entry.size);
  if (entry.method === 8) await pipeline(src, zlib.createInflateRaw(), check, out);
  else await pipeline(src, check, out);
  if (fs.statSync(dest).size !== entry.size) throw new PullError(`zip member ${entry.name}: size mismatch`);
}
