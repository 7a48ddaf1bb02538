/**
 * GGUF reading: header, metadata, tensor table, streamed tensor data and dequantisation.
 * @module
 */
export { GgufError } from './errors';
export { GgufValueType, valueTypeName } from './value-types';
export { GgmlType, QK_K, ggmlTypeLayout, ggmlTypeName } from './tensor-types';
export type { GgmlTypeLayout } from './tensor-types';
export { GgufMetadata, isArrayValue } from './metadata';
export type { GgufArrayValue, GgufMetadataEntry, GgufNumericArray, GgufValue } from './metadata';
export type { GgufTensorInfo } from './tensor-info';
export { BufferByteSource, FileByteSource } from './byte-source';
export type { ByteSource } from './byte-source';
export { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_ARRAY_NESTING, parseGgufHeader } from './parse-header';
export type { GgufHeader } from './parse-header';
export { GgufFile, readGguf, readGgufBuffer } from './gguf-file';
export { DEQUANTIZABLE_TYPES, bf16ToF32, canDequantize, dequantize, f16ToF32, ggmlByteSize, unpackScaleMinK4 } from './dequantize/index';
export { readQ4Blocks, repackQ4Sequential, unpackQ4Codes } from './q4-blocks';
export type { Q4Blocks } from './q4-blocks';
export { readQ8Blocks } from './q8-blocks';
export type { Q8Blocks } from './q8-blocks';
