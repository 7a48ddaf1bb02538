/**
 * Plain TypeScript descriptions of the parts of an ONNX model this package writes. They are
 * turned into protobuf bytes by `onnx-proto-encoder.ts`.
 */

/** ONNX `TensorProto.DataType` codes used here. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** One of the {@link OnnxDataType} codes. */
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** Bytes per element of each data type (BOOL is one byte). */
export const BYTES_PER_ELEMENT: Readonly<Record<OnnxDataTypeCode, number>> = {
  1: 4,
  2: 1,
  3: 1,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
};

/** A tensor dimension: a fixed size or a symbolic name (`dim_param`, e.g. `"batch_size"`). */
export type Dim = number | string;

/** A graph input or output: name, element type and (possibly symbolic) shape. */
export interface ValueInfo {
  /** Value name. */
  readonly name: string;
  /** Element type code. */
  readonly elemType: OnnxDataTypeCode;
  /** Shape; strings become `dim_param`. */
  readonly shape: readonly Dim[];
}

/** Where an external initializer's bytes lie in the data file. */
export interface ExternalLocation {
  /** File name relative to the model file. */
  readonly location: string;
  /** Byte offset in that file. */
  readonly offset: number;
  /** Byte length. */
  readonly length: number;
}

/** A tensor as it is written into the model file: inline bytes or a reference to external data. */
export interface TensorDef {
  /** Tensor name. */
  readonly name: string;
  /** Element type code. */
  readonly dataType: OnnxDataTypeCode;
  /** Shape. */
  readonly dims: readonly number[];
  /** Little-endian bytes stored inline as `raw_data`. */
  readonly raw?: Uint8Array;
  /** Set when the bytes live in an external data file. */
  readonly external?: ExternalLocation;
}

/** An attribute value, tagged with its ONNX attribute type. */
export type AttributeValue =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'tensor'; readonly value: TensorDef };

/** Constructors for {@link AttributeValue}s. */
export const attr = {
  /** An INT attribute. */
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  /** A FLOAT attribute. */
  float: (value: number): AttributeValue => ({ type: 'float', value }),
  /** A STRING attribute. */
  string: (value: string): AttributeValue => ({ type: 'string', value }),
  /** An INTS attribute. */
  ints: (value: readonly number[]): AttributeValue => ({ type: 'ints', value }),
  /** A FLOATS attribute. */
  floats: (value: readonly number[]): AttributeValue => ({ type: 'floats', value }),
  /** A TENSOR attribute (inline tensor). */
  tensor: (value: TensorDef): AttributeValue => ({ type: 'tensor', value }),
};

/** A node of the graph. */
export interface NodeDef {
  /** Operator type, e.g. `"MatMul"`. */
  readonly opType: string;
  /** Operator domain; empty string is the default ONNX domain. */
  readonly domain: string;
  /** Unique node name. */
  readonly name: string;
  /** Input value names (empty string for an omitted optional input). */
  readonly inputs: readonly string[];
  /** Output value names. */
  readonly outputs: readonly string[];
  /** Attributes by name. */
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** An operator-set import, e.g. `{ domain: '', version: 17 }` or `{ domain: 'com.microsoft', version: 1 }`. */
export interface OpsetImport {
  /** Domain ('' for the default ONNX domain). */
  readonly domain: string;
  /** Operator-set version. */
  readonly version: number;
}

/** A complete graph as written. */
export interface GraphDef {
  /** Graph name. */
  readonly name: string;
  /** Nodes in topological order. */
  readonly nodes: readonly NodeDef[];
  /** Initializers (inline or external). */
  readonly initializers: readonly TensorDef[];
  /** Graph inputs. */
  readonly inputs: readonly ValueInfo[];
  /** Graph outputs. */
  readonly outputs: readonly ValueInfo[];
}

/** A complete model as written. */
export interface ModelDef {
  /** ONNX IR version (8 goes with opset 17/18). */
  readonly irVersion: number;
  /** Operator sets used. */
  readonly opsetImports: readonly OpsetImport[];
  /** Producer name. */
  readonly producerName: string;
  /** Producer version. */
  readonly producerVersion: string;
  /** Free-form key/value metadata (`metadata_props`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The graph. */
  readonly graph: GraphDef;
}
