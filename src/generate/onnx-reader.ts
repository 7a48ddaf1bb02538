/**
 * A small ONNX reader: just enough of ModelProto to find the nodes and initializers of a graph
 * (names, dims, data type, inline bytes or external-data location). Used to locate the LM head and exit
 * heads so the sparse amateur can read them; not a general ONNX parser.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A node: operator type, inputs and outputs. */
export interface OnnxNodeInfo {
  readonly opType: string;
  readonly inputs: string[];
  readonly outputs: string[];
}

/** An initializer: inline bytes or an external-data location. */
export interface OnnxInitializerInfo {
  readonly name: string;
  readonly dims: number[];
  /** TensorProto.DataType (1 float, 10 float16, 16 bfloat16, ...). */
  readonly dataType: number;
  readonly raw?: Uint8Array;
  readonly external?: { location: string; offset: number; length: number };
}

/** The parts of a graph this reader returns. */
export interface OnnxGraphInfo {
  readonly nodes: OnnxNodeInfo[];
  readonly initializers: Map<string, OnnxInitializerInfo>;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length) {}
  varint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated ONNX protobuf');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  }
  /** Calls fn(field, wireType, sub) for each field; sub spans a length-delimited payload. */
  each(fn: (field: number, wire: number, sub: Reader | null) => void): void {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 2) {
        const len = this.varint();
        const sub = new Reader(this.buf, this.pos + len);
        sub.pos = this.pos;
        this.pos += len;
        fn(field, wire, sub);
      } else if (wire === 0) {
        const v = this.varint();
        fn(field, wire, new ValueReader(v));
      } else if (wire === 1) {
        this.pos += 8;
        fn(field, wire, null);
      } else if (wire === 5) {
        this.pos += 4;
        fn(field, wire, null);
      } else {
        throw new Error(`unsupported protobuf wire type ${wire}`);
      }
    }
  }
  string(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, this.end - this.pos).toString('utf8');
  }
  bytes(): Uint8Array {
    return this.buf.subarray(this.pos, this.end);
  }
}

class ValueReader extends Reader {
  constructor(readonly value: number) {
    super(new Uint8Array(0));
  }
}

function parseNode(r: Reader): OnnxNodeInfo {
  const node = { opType: '', inputs: [] as string[], outputs: [] as string[] };
  r.each((f, _w, s) => {
    if (f === 1) node.inputs.push(s!.string());
    else if (f === 2) node.outputs.push(s!.string());
    else if (f === 4) node.opType = s!.string();
  });
  return node;
}

function parseTensor(r: Reader): OnnxInitializerInfo {
  let name = '';
  const dims: number[] = [];
  let dataType = 0;
  let raw: Uint8Array | undefined;
  const ext: Record<string, string> = {};
  r.each((f, w, s) => {
    if (f === 1) {
      if (w === 0) dims.push((s as ValueReader).value);
      else while (s!.pos < s!.end) dims.push(s!.varint());
    } else if (f === 2) dataType = (s as ValueReader).value;
    else if (f === 8) name = s!.string();
    else if (f === 9) raw = s!.bytes();
    else if (f === 13) {
      let k = '';
      let v = '';
      s!.each((ef, _ew, es) => {
        if (ef === 1) k = es!.string();
        else if (ef === 2) v = es!.string();
      });
      ext[k] = v;
    }
  });
  const external = ext.location !== undefined ? { location: ext.location, offset: Number(ext.offset ?? 0), length: Number(ext.length ?? -1) } : undefined;
  return { name, dims, dataType, raw, external };
}

/** Reads the nodes and initializers of an ONNX model file. */
export function readOnnxGraph(file: string): OnnxGraphInfo {
  const buf = readFileSync(file);
  const nodes: OnnxNodeInfo[] = [];
  const initializers = new Map<string, OnnxInitializerInfo>();
  new Reader(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)).each((f, _w, s) => {
    if (f !== 7 || !s) return; // ModelProto.graph
    s.each((gf, _gw, gs) => {
      if (gf === 1) nodes.push(parseNode(gs!));
      else if (gf === 5) {
        const t = parseTensor(gs!);
        initializers.set(t.name, t);
      }
    });
  });
  return { nodes, initializers };
}

/** Element size of the data types a head may have (float32, float16, bfloat16). */
const DTYPES: Record<number, { bytes: number; name: 'float32' | 'float16' | 'bfloat16' }> = {
  1: { bytes: 4, name: 'float32' },
  10: { bytes: 2, name: 'float16' },
  16: { bytes: 2, name: 'bfloat16' },
};

/**
 * Loads an initializer's values (inline or from its external-data file beside `modelFile`) as a
 * Float32Array, or a Uint16Array of float16/bfloat16 bits. Throws for other data types.
 */
export function loadInitializer(modelFile: string, t: OnnxInitializerInfo): { data: Float32Array | Uint16Array; dtype: 'float32' | 'float16' | 'bfloat16' } {
  const dt = DTYPES[t.dataType];
  if (!dt) throw new Error(`initializer ${t.name} has data type ${t.dataType}; only float32, float16 and bfloat16 heads can be read`);
  const count = t.dims.reduce((a, b) => a * b, 1);
  const bytes = count * dt.bytes;
  const ab = new ArrayBuffer(bytes);
  const u8 = new Uint8Array(ab);
  if (t.raw) {
    if (t.raw.length !== bytes) throw new Error(`initializer ${t.name}: ${t.raw.length} bytes inline, ${bytes} expected`);
    u8.set(t.raw);
  } else if (t.external) {
    if (t.external.length >= 0 && t.external.length !== bytes) throw new Error(`initializer ${t.name}: external length ${t.external.length}, ${bytes} expected`);
    const fd = openSync(join(dirname(modelFile), t.external.location), 'r');
    try {
      let done = 0;
      while (done < bytes) {
        const n = readSync(fd, u8, done, bytes - done, t.external.offset + done);
        if (n <= 0) throw new Error(`initializer ${t.name}: external data file ${t.external.location} is truncated`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  } else {
    throw new Error(`initializer ${t.name} has neither raw_data nor external data`);
  }
  return { data: dt.bytes === 4 ? new Float32Array(ab) : new Uint16Array(ab), dtype: dt.name };
}
