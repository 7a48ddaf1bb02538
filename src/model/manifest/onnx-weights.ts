/**
 * What a model folder's weights are: read from its ONNX graph (model.onnx; the weights' bytes stay in the data
 * file), each weight's element type, shape, size and how it is used: a 4-bit MatMulNBits matrix (with its block
 * size and accuracy level) or a float tensor. Also which weights each exit's outputs depend on.
 *
 * A minimal protobuf reader for the few ONNX fields needed (onnx.proto: ModelProto.graph = 7; GraphProto node = 1,
 * initializer = 5, output = 12; NodeProto input = 1, output = 2, op_type = 4, attribute = 5; AttributeProto
 * name = 1, i = 3; TensorProto dims = 1, data_type = 2, name = 8, raw_data = 9, external_data = 13;
 * ValueInfoProto name = 1; StringStringEntryProto key = 1, value = 2).
 */
import * as fs from 'node:fs';

import { protobufFields } from '../graph/onnx/protobuf-reader';

type Value = number | Uint8Array;

/** The fields of one protobuf message: [field number, value] (varints as numbers, length-delimited as bytes). */
function fields(buf: Uint8Array): Array<[number, Value]> {
  const out: Array<[number, Value]> = [];
  for (const f of protobufFields(buf)) {
    if (f.body) out.push([f.field, buf.subarray(f.body.start, f.body.end)]);
    else if (f.value !== undefined) out.push([f.field, f.value]);
  }
  return out;
}

const text = (v: Value): string => Buffer.from(v as Uint8Array).toString('utf8');

/** Packed or single varints of a repeated integer field. */
function ints(v: Value): number[] {
  if (typeof v === 'number') return [v];
  const out: number[] = [];
  let p = 0;
  while (p < v.length) {
    let x = 0;
    let scale = 1;
    for (;;) {
      const b = v[p++];
      x += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    out.push(x);
  }
  return out;
}

/** ONNX element types by TensorProto.DataType number, with their sizes in bytes. */
const DATA_TYPES: Record<number, [string, number]> = {
  1: ['float32', 4], 2: ['uint8', 1], 3: ['int8', 1], 5: ['int16', 2], 6: ['int32', 4], 7: ['int64', 8],
  10: ['float16', 2], 11: ['float64', 8], 16: ['bfloat16', 2],
};

/** One weight (initializer) of the graph. */
export interface WeightInfo {
  /** Initializer name. */
  readonly name: string;
  /** Element type (`float32`, `uint8`, ...). */
  readonly dataType: string;
  /** Shape. */
  readonly dims: readonly number[];
  /** Bytes stored. */
  readonly bytes: number;
  /**
   * How it is stored: `4-bit` or `8-bit` (the packed matrix of a MatMulNBits node; its scales and zero points
   * count as such too), or the element type for everything else.
   */
  readonly format: string;
  /** For MatMulNBits matrices: block size and accuracy level (0: ONNX Runtime's default, 4: int8 activations). */
  readonly blockSize?: number;
  readonly accuracyLevel?: number;
}

/** Weights grouped by format. */
export interface FormatTotal {
  /** `4-bit (block 32, accuracy level 4)`, `float32`, ... */
  readonly format: string;
  /** Number of tensors. */
  readonly count: number;
  /** Bytes. */
  readonly bytes: number;
}

/** The weights of a graph, and those each output depends on. */
export interface WeightSummary {
  readonly weights: readonly WeightInfo[];
  /** Totals per format, largest first. */
  readonly formats: readonly FormatTotal[];
  /** For each graph output, the names of the weights it is computed from. */
  readonly weightsOf: (output: string) => ReadonlySet<string>;
}

interface NodeInfo {
  readonly op: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attrs: Map<string, number>;
}

function formatLabel(w: WeightInfo): string {
  return /^\d+-bit$/.test(w.format) ? `${w.format} (block ${w.blockSize}, accuracy level ${w.accuracyLevel})` : w.format;
}

/** Totals per format of `weights` (a subset of a summary's weights), largest first. */
export function formatTotals(weights: Iterable<WeightInfo>): FormatTotal[] {
  const by = new Map<string, { count: number; bytes: number }>();
  for (const w of weights) {
    const k = formatLabel(w);
    const t = by.get(k) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += w.bytes;
    by.set(k, t);
  }
  return [...by].map(([format, t]) => ({ format, ...t })).sort((a, b) => b.bytes - a.bytes);
}

/** Reads the weights of the ONNX model file `file`. */
export function readOnnxWeights(file: string): WeightSummary {
  const model = fields(fs.readFileSync(file));
  const graphBytes = model.find(([n]) => n === 7)?.[1];
  if (!(graphBytes instanceof Uint8Array)) throw new Error(`${file}: no graph in the ONNX model`);
  const nodes: NodeInfo[] = [];
  const raw: Array<{ name: string; type: number; dims: number[]; bytes: number }> = [];
  for (const [n, v] of fields(graphBytes)) {
    if (n === 1 && v instanceof Uint8Array) {
      const node: NodeInfo = { op: '', inputs: [], outputs: [], attrs: new Map() };
      for (const [k, x] of fields(v)) {
        if (k === 1) node.inputs.push(text(x));
        else if (k === 2) node.outputs.push(text(x));
        else if (k === 4) (node as { op: string }).op = text(x);
        else if (k === 5) {
          const a = fields(x as Uint8Array);
          const name = a.find(([f]) => f === 1);
          const i = a.find(([f]) => f === 3);
          if (name && i && typeof i[1] === 'number') node.attrs.set(text(name[1]), i[1]);
        }
      }
      nodes.push(node);
    } else if (n === 5 && v instanceof Uint8Array) {
      let name = '';
      let type = 0;
      const dims: number[] = [];
      let bytes = -1;
      for (const [k, x] of fields(v)) {
        if (k === 1) dims.push(...ints(x));
        else if (k === 2) type = x as number;
        else if (k === 8) name = text(x);
        else if (k === 9) bytes = (x as Uint8Array).length;
        else if (k === 13) {
          const e = fields(x as Uint8Array);
          const key = e.find(([f]) => f === 1);
          const val = e.find(([f]) => f === 2);
          if (key && val && text(key[1]) === 'length') bytes = Number(text(val[1]));
        }
      }
      if (bytes < 0) bytes = dims.reduce((a, b) => a * b, 1) * (DATA_TYPES[type]?.[1] ?? 0);
      raw.push({ name, type, dims, bytes });
    }
  }
  const nbits = new Map<string, { format: string; blockSize: number; accuracyLevel: number }>();
  for (const node of nodes) {
    if (node.op !== 'MatMulNBits') continue;
    const q = { format: `${node.attrs.get('bits') ?? 4}-bit`, blockSize: node.attrs.get('block_size') ?? 0, accuracyLevel: node.attrs.get('accuracy_level') ?? 0 };
    for (const name of node.inputs.slice(1, 4)) if (name) nbits.set(name, q);
  }
  const weights: WeightInfo[] = raw.map((r) => {
    const q = nbits.get(r.name);
    const dataType = DATA_TYPES[r.type]?.[0] ?? `type ${r.type}`;
    return q ? { name: r.name, dataType, dims: r.dims, bytes: r.bytes, ...q } : { name: r.name, dataType, dims: r.dims, bytes: r.bytes, format: dataType };
  });
  const isWeight = new Set(weights.map((w) => w.name));
  const producer = new Map<string, NodeInfo>();
  for (const node of nodes) for (const o of node.outputs) producer.set(o, node);
  const cache = new Map<string, Set<string>>();
  const weightsOf = (output: string): ReadonlySet<string> => {
    const hit = cache.get(output);
    if (hit) return hit;
    const found = new Set<string>();
    const seen = new Set<string>();
    const stack = [output];
    while (stack.length) {
      const v = stack.pop() as string;
      if (seen.has(v)) continue;
      seen.add(v);
      if (isWeight.has(v)) found.add(v);
      const node = producer.get(v);
      if (node) for (const i of node.inputs) if (i) stack.push(i);
    }
    cache.set(output, found);
    return found;
  };
  return { weights, formats: formatTotals(weights), weightsOf };
}
