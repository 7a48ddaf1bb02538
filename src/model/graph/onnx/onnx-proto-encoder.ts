/**
 * Encodes {@link ModelDef} into ONNX protobuf bytes. Field numbers follow `onnx.proto3`
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto,
 * TensorShapeProto, OperatorSetIdProto, StringStringEntryProto).
 */
import { ProtobufWriter } from './protobuf-writer';
import type { AttributeValue, GraphDef, ModelDef, NodeDef, TensorDef, ValueInfo } from './onnx-types';

/** AttributeProto.AttributeType codes. */
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function encodeStringEntry(key: string, value: string): Uint8Array {
  const w = new ProtobufWriter(64);
  w.stringField(1, key);
  w.stringField(2, value);
  return w.finish();
}

/** Encodes a TensorProto (dims 1, data_type 2, name 8, raw_data 9, external_data 13, data_location 14). */
export function encodeTensor(t: TensorDef): Uint8Array {
  const w = new ProtobufWriter(64 + (t.raw?.length ?? 0));
  w.packedVarints(1, t.dims);
  w.int64Field(2, t.dataType);
  w.stringField(8, t.name);
  if (t.external) {
    w.message(13, encodeStringEntry('location', t.external.location));
    w.message(13, encodeStringEntry('offset', String(t.external.offset)));
    w.message(13, encodeStringEntry('length', String(t.external.length)));
    w.int64Field(14, 1); // DataLocation.EXTERNAL
  } else {
    w.bytesField(9, t.raw ?? new Uint8Array(0));
  }
  return w.finish();
}

/** Encodes an AttributeProto (name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20). */
function encodeAttribute(name: string, a: AttributeValue): Uint8Array {
  const w = new ProtobufWriter(32);
  w.stringField(1, name);
  switch (a.type) {
    case 'float':
      w.floatField(2, a.value);
      break;
    case 'int':
      w.int64Field(3, a.value);
      break;
    case 'string':
      w.stringField(4, a.value);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedVarints(8, a.value);
      break;
  }
  w.int64Field(20, ATTR_TYPE[a.type]);
  return w.finish();
}

/** Encodes a NodeProto (input 1, output 2, name 3, op_type 4, attribute 5, domain 7). */
function encodeNode(n: NodeDef): Uint8Array {
  const w = new ProtobufWriter(64);
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes)) w.message(5, encodeAttribute(k, v));
  if (n.domain) w.stringField(7, n.domain);
  return w.finish();
}

/** Encodes a ValueInfoProto with a tensor TypeProto and a TensorShapeProto (dim_value 1 / dim_param 2). */
function encodeValueInfo(v: ValueInfo): Uint8Array {
  const shape = new ProtobufWriter(32);
  for (const d of v.shape) {
    const dim = new ProtobufWriter(16);
    if (typeof d === 'number') dim.int64Field(1, d);
    else dim.stringField(2, d);
    shape.message(1, dim.finish());
  }
  const tensorType = new ProtobufWriter(32);
  tensorType.int64Field(1, v.elemType);
  tensorType.message(2, shape.finish());
  const type = new ProtobufWriter(32);
  type.message(1, tensorType.finish());
  const w = new ProtobufWriter(64);
  w.stringField(1, v.name);
  w.message(2, type.finish());
  return w.finish();
}

/** Encodes a GraphProto (node 1, name 2, initializer 5, input 11, output 12). */
function encodeGraph(g: GraphDef): Uint8Array {
  const w = new ProtobufWriter(4096);
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w.finish();
}

/**
 * Encodes a ModelProto (ir_version 1, producer_name 2, producer_version 3, graph 7,
 * opset_import 8 as OperatorSetIdProto {domain 1, version 2}, metadata_props 14).
 */
export function encodeModel(m: ModelDef): Uint8Array {
  const w = new ProtobufWriter(8192);
  w.int64Field(1, m.irVersion);
  w.stringField(2, m.producerName);
  w.stringField(3, m.producerVersion);
  w.message(7, encodeGraph(m.graph));
  for (const op of m.opsetImports) {
    const o = new ProtobufWriter(32);
    if (op.domain) o.stringField(1, op.domain);
    o.int64Field(2, op.version);
    w.message(8, o.finish());
  }
  for (const [k, v] of Object.entries(m.metadata)) w.message(14, encodeStringEntry(k, v));
  return w.finish();
}

/**
 * Encodes nodes, initializers and outputs as a ModelProto that holds only a partial `graph` (no name, no
 * inputs, no other field). Appended to an existing model file, it extends that model's graph: protobuf merges
 * a repeated occurrence of an embedded message field into the first, appending to its repeated fields (nodes,
 * initializers, outputs). Used to add fitted exits to a model folder without rewriting its weights.
 */
export function encodeGraphExtension(part: Pick<GraphDef, 'nodes' | 'initializers' | 'outputs'>): Uint8Array {
  const g = new ProtobufWriter(4096);
  for (const n of part.nodes) g.message(1, encodeNode(n));
  for (const t of part.initializers) g.message(5, encodeTensor(t));
  for (const o of part.outputs) g.message(12, encodeValueInfo(o));
  const w = new ProtobufWriter(4096);
  w.message(7, g.finish());
  return w.finish();
}
