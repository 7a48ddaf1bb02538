/**
 * The reading half of ./protobuf-writer.ts: one protobuf message's fields, each with the byte range of its whole
 * encoding, so that a caller can read a field's value or copy the field as it is (src/model/graph/onnx/without-head.ts
 * edits a ModelProto by copying the fields it keeps).
 */

/** A field of a protobuf message, with the byte range of its whole encoding (key included). */
export interface ProtobufField {
  readonly field: number;
  readonly wire: number;
  readonly start: number;
  readonly end: number;
  /** Payload range of a length-delimited field. */
  readonly body?: { start: number; end: number };
  /** Value of a varint field. */
  readonly value?: number;
}

/**
 * The fields of the message encoded in `buf[start, end)`, in order.
 * @throws RangeError on a truncated message or a group wire type (3, 4), which ONNX does not use
 */
export function protobufFields(buf: Uint8Array, start = 0, end = buf.length): ProtobufField[] {
  const out: ProtobufField[] = [];
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= end) throw new RangeError('truncated protobuf message');
      const b = buf[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < end) {
    const at = pos;
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 2) {
      const len = varint();
      if (pos + len > end) throw new RangeError('truncated protobuf message');
      out.push({ field, wire, start: at, end: pos + len, body: { start: pos, end: pos + len } });
      pos += len;
    } else if (wire === 0) {
      const value = varint();
      out.push({ field, wire, start: at, end: pos, value });
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > end) throw new RangeError('truncated protobuf message');
      out.push({ field, wire, start: at, end: pos });
    } else {
      throw new RangeError(`unsupported protobuf wire type ${wire}`);
    }
  }
  return out;
}
