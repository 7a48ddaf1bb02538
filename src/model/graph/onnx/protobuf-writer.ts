/**
 * A minimal protocol-buffers encoder: varints, fixed32/fixed64, length-delimited fields and
 * packed repeated scalars. It writes exactly the wire format described in the protobuf
 * encoding specification, enough for the ONNX messages this package emits.
 */

/** Protobuf wire types. */
export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

const TWO_POW_32 = 4294967296;

/**
 * An append-only protobuf message writer. Nested messages are encoded separately and embedded
 * with {@link ProtobufWriter.message} (length prefix followed by their bytes).
 */
export class ProtobufWriter {
  private buf: Uint8Array;
  private len = 0;
  private readonly view4 = new DataView(new ArrayBuffer(8));

  /** @param initialCapacity starting buffer size in bytes (grows as needed). */
  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /**
   * Writes an unsigned or signed (two's complement, 64-bit) varint. Numbers must be safe
   * integers; negative values take ten bytes as protobuf int64 requires.
   */
  varint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new RangeError(`varint: ${value} is not a safe integer`);
      if (value >= 0 && value < TWO_POW_32) {
        let v = value;
        while (v > 0x7f) {
          this.byte((v & 0x7f) | 0x80);
          v = Math.floor(v / 128);
        }
        this.byte(v);
        return;
      }
      value = BigInt(value);
    }
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  /** Writes a field key (field number and wire type). */
  tag(field: number, wire: WireType): void {
    this.varint(field * 8 + wire);
  }

  /** Raw bytes, no prefix. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** An int32/int64/uint64/enum/bool field (varint). Zero values are still written. */
  int64Field(field: number, value: number | bigint): void {
    this.tag(field, WireType.Varint);
    this.varint(value);
  }

  /** A float (fixed32, little-endian) field. */
  floatField(field: number, value: number): void {
    this.tag(field, WireType.Fixed32);
    this.view4.setFloat32(0, value, true);
    this.raw(new Uint8Array(this.view4.buffer, 0, 4));
  }

  /** A length-delimited bytes field. */
  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, WireType.LengthDelimited);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** A UTF-8 string field. */
  stringField(field: number, value: string): void {
    this.bytesField(field, Buffer.from(value, 'utf8'));
  }

  /** An embedded message field (already encoded). */
  message(field: number, encoded: Uint8Array): void {
    this.bytesField(field, encoded);
  }

  /** A packed repeated varint field (int32/int64/enum). Nothing is written for an empty list. */
  packedVarints(field: number, values: readonly (number | bigint)[]): void {
    if (values.length === 0) return;
    const inner = new ProtobufWriter(values.length * 2 + 8);
    for (const v of values) inner.varint(v);
    this.bytesField(field, inner.finish());
  }

  /** A packed repeated float (fixed32) field. Nothing is written for an empty list. */
  packedFloats(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    this.bytesField(field, bytes);
  }

  /** The encoded bytes (a view of the internal buffer; do not write afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
