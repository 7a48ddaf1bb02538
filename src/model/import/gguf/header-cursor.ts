import type { ByteSource } from './byte-source';
import { GgufError } from './errors';

const CHUNK_BYTES = 1 << 20;

/**
 * Sequential little-endian reader over a {@link ByteSource}, buffering 1 MiB at a time.
 * Every read is bounds-checked against the source size before anything is allocated.
 * @internal
 */
export class HeaderCursor {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  /** Current absolute byte offset. */
  pos: number;

  constructor(private readonly src: ByteSource, start = 0) {
    this.pos = start;
  }

  /** Bytes left between the cursor and the end of the source. */
  get remaining(): number {
    return this.src.size - this.pos;
  }

  private need(n: number, what: string): number {
    if (n > this.remaining) {
      throw new GgufError(
        `truncated file: reading ${what} needs ${n} bytes at byte ${this.pos}, but the file has ${this.src.size} bytes`,
      );
    }
    const rel = this.pos - this.chunkStart;
    if (rel < 0 || rel + n > this.chunk.length) {
      const len = Math.min(Math.max(n, CHUNK_BYTES), this.remaining);
      this.chunk = this.src.read(this.pos, len);
      this.chunkStart = this.pos;
      return 0;
    }
    return rel;
  }

  u8(what: string): number {
    const o = this.need(1, what);
    this.pos += 1;
    return this.chunk[o];
  }
  i8(what: string): number {
    const o = this.need(1, what);
    this.pos += 1;
    return this.chunk.readInt8(o);
  }
  u16(what: string): number {
    const o = this.need(2, what);
    this.pos += 2;
    return this.chunk.readUInt16LE(o);
  }
  i16(what: string): number {
    const o = this.need(2, what);
    this.pos += 2;
    return this.chunk.readInt16LE(o);
  }
  u32(what: string): number {
    const o = this.need(4, what);
    this.pos += 4;
    return this.chunk.readUInt32LE(o);
  }
  i32(what: string): number {
    const o = this.need(4, what);
    this.pos += 4;
    return this.chunk.readInt32LE(o);
  }
  f32(what: string): number {
    const o = this.need(4, what);
    this.pos += 4;
    return this.chunk.readFloatLE(o);
  }
  f64(what: string): number {
    const o = this.need(8, what);
    this.pos += 8;
    return this.chunk.readDoubleLE(o);
  }
  u64(what: string): bigint {
    const o = this.need(8, what);
    this.pos += 8;
    return this.chunk.readBigUInt64LE(o);
  }
  i64(what: string): bigint {
    const o = this.need(8, what);
    this.pos += 8;
    return this.chunk.readBigInt64LE(o);
  }

  /** Reads a uint64 that must fit a JS number and be at most `max` (a count or length). */
  count(what: string, max: number): number {
    const v = this.u64(what);
    if (v > BigInt(max)) {
      throw new GgufError(`corrupt file: ${what} is ${v} at byte ${this.pos - 8}, more than the ${max} the rest of the file can hold`);
    }
    return Number(v);
  }

  /** Copies `n` raw bytes (n already validated by the caller or bounded by the file). */
  bytes(n: number, what: string): Buffer {
    if (n <= CHUNK_BYTES) {
      const o = this.need(n, what);
      this.pos += n;
      return this.chunk.subarray(o, o + n);
    }
    if (n > this.remaining) this.need(n, what);
    const out = this.src.read(this.pos, n);
    this.pos += n;
    return out;
  }

  /** Reads a GGUF string: uint64 byte length then UTF-8 bytes (invalid sequences become U+FFFD). */
  string(what: string): string {
    const start = this.pos;
    const len = this.count(`length of ${what}`, Math.max(0, this.remaining - 8));
    if (len > this.remaining) {
      throw new GgufError(`truncated file: ${what} at byte ${start} is ${len} bytes long, past the end of the file`);
    }
    return this.bytes(len, what).toString('utf8');
  }
}
