import * as fs from 'node:fs';
import { GgufError } from './errors';

/**
 * Random-access, read-only bytes: a file opened by descriptor or an in-memory buffer.
 * `read` returns exactly `length` bytes or throws a {@link GgufError}.
 */
export interface ByteSource {
  /** Total number of bytes. */
  readonly size: number;
  /** Reads `length` bytes starting at `position`. */
  read(position: number, length: number): Buffer;
  /** Releases the underlying resource (no-op for buffers). Idempotent. */
  close(): void;
}

/** A {@link ByteSource} over a file, read on demand through a file descriptor (never loaded whole). */
export class FileByteSource implements ByteSource {
  readonly size: number;
  private fd: number | null;

  /** Opens `path` read-only. Throws the usual Node errors (ENOENT, EACCES...) if it cannot be opened. */
  constructor(readonly path: string) {
    const fd = fs.openSync(path, 'r');
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw new GgufError(`${path}: not a regular file`);
      this.size = stat.size;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  read(position: number, length: number): Buffer {
    if (this.fd === null) throw new GgufError(`${this.path}: file is closed`);
    checkRange(position, length, this.size);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, position + done);
      if (n <= 0) {
        throw new GgufError(`${this.path}: unexpected end of file at byte ${position + done} (file shrank while reading?)`);
      }
      done += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** A {@link ByteSource} over bytes already in memory (tests, small files). */
export class BufferByteSource implements ByteSource {
  readonly size: number;
  private readonly buffer: Buffer;

  /** Wraps `bytes` without copying. */
  constructor(bytes: Uint8Array) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.byteLength;
  }

  read(position: number, length: number): Buffer {
    checkRange(position, length, this.size);
    return this.buffer.subarray(position, position + length);
  }

  close(): void {
    /* nothing to release */
  }
}

function checkRange(position: number, length: number, size: number): void {
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0) {
    throw new GgufError(`invalid read range: ${length} bytes at ${position}`);
  }
  if (position + length > size) {
    throw new GgufError(`read of ${length} bytes at byte ${position} goes past the end of the data (${size} bytes)`);
  }
}
