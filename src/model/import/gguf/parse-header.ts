import type { ByteSource } from './byte-source';
import { GgufError } from './errors';
import { HeaderCursor } from './header-cursor';
import { GgufArrayValue, GgufMetadata, GgufMetadataEntry, GgufValue } from './metadata';
import type { GgufTensorInfo } from './tensor-info';
import { ggmlTypeLayout, ggmlTypeName } from './tensor-types';
import { GgufValueType, isGgufValueType, minValueSize } from './value-types';

/** The four magic bytes "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
/** Alignment of the data section when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Most dimensions a ggml tensor can have. */
export const GGML_MAX_DIMS = 4;
/** Deepest nesting of ARRAY values accepted (real files use at most 2). */
export const MAX_ARRAY_NESTING = 8;

/** Everything in a GGUF header: version, metadata, tensor table and data-section placement. */
export interface GgufHeader {
  /** Format version (2 or 3). */
  readonly version: number;
  /** Key/value metadata. */
  readonly metadata: GgufMetadata;
  /** Tensor table in file order. */
  readonly tensors: readonly GgufTensorInfo[];
  /** Data-section alignment (`general.alignment` or 32). */
  readonly alignment: number;
  /** Absolute offset where tensor data starts (header end rounded up to `alignment`). */
  readonly dataOffset: number;
  /** Bytes in the whole file. */
  readonly fileSize: number;
}

/**
 * Parses the header of a GGUF file (versions 2 and 3, little-endian) and validates the tensor
 * table against the file size. Reads only the header; tensor data is not touched.
 * @throws {GgufError} bad magic, unsupported version, counts/lengths exceeding the file, unknown
 *   value or tensor types, tensors with invalid shapes or data beyond the end of the file.
 */
export function parseGgufHeader(src: ByteSource): GgufHeader {
  const cur = new HeaderCursor(src, 0);
  if (src.size < 4) throw new GgufError(`not a GGUF file: only ${src.size} bytes (no magic)`);
  const magic = cur.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const shown = src.read(0, 4).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
    throw new GgufError(`not a GGUF file: bad magic "${shown}" (0x${magic.toString(16).padStart(8, '0')}), expected "GGUF"`);
  }
  const version = cur.u32('version');
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === 2 || swapped === 3) {
      throw new GgufError(`unsupported GGUF file: big-endian GGUF (version ${swapped}) is not supported`);
    }
    throw new GgufError(`unsupported GGUF version ${version} (supported: 2, 3)`);
  }
  // Each tensor info needs >= 8 (name len) + 4 (n_dims) + 4 (type) + 8 (offset) bytes,
  // each KV >= 8 (key len) + 4 (type) + 1 (smallest value).
  const tensorCount = cur.count('tensor count', Math.floor(Math.max(0, cur.remaining - 8) / 24));
  const kvCount = cur.count('metadata key/value count', Math.floor(cur.remaining / 13));

  const entries: GgufMetadataEntry[] = [];
  const seenKeys = new Set<string>();
  for (let i = 0; i < kvCount; i++) {
    const at = cur.pos;
    const key = cur.string(`key of metadata entry ${i}`);
    if (seenKeys.has(key)) throw new GgufError(`corrupt file: duplicate metadata key "${key}" at byte ${at}`);
    seenKeys.add(key);
    const typeTag = cur.u32(`value type of "${key}"`);
    if (!isGgufValueType(typeTag)) {
      throw new GgufError(`corrupt file: unknown value type ${typeTag} for metadata key "${key}" at byte ${cur.pos - 4}`);
    }
    const value = readValue(cur, typeTag, key, 0);
    entries.push({ key, type: typeTag, value });
  }
  const metadata = new GgufMetadata(entries);

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has('general.alignment')) {
    const a = metadata.get('general.alignment');
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw new GgufError(`corrupt file: general.alignment must be a positive power of two, got ${String(a)}`);
    }
    alignment = a;
  }

  interface RawTensor {
    name: string;
    dims: number[];
    type: number;
    relativeOffset: number;
  }
  const raw: RawTensor[] = [];
  const seenNames = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = cur.pos;
    const name = cur.string(`name of tensor ${i}`);
    if (seenNames.has(name)) throw new GgufError(`corrupt file: duplicate tensor name "${name}" at byte ${at}`);
    seenNames.add(name);
    const nDims = cur.u32(`dimension count of tensor "${name}"`);
    if (nDims < 1 || nDims > GGML_MAX_DIMS) {
      throw new GgufError(`corrupt file: tensor "${name}" has ${nDims} dimensions (must be 1..${GGML_MAX_DIMS})`);
    }
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = cur.u64(`dimension ${d} of tensor "${name}"`);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(`corrupt file: tensor "${name}" dimension ${d} is ${v}, too large`);
      dims.push(Number(v));
    }
    const type = cur.u32(`type of tensor "${name}"`);
    const off = cur.u64(`data offset of tensor "${name}"`);
    if (off > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(`corrupt file: tensor "${name}" data offset ${off} is too large`);
    raw.push({ name, dims, type, relativeOffset: Number(off) });
  }

  const headerEnd = cur.pos;
  const dataOffset = alignUp(headerEnd, alignment);
  const fileSize = src.size;
  if (tensorCount > 0 && dataOffset > fileSize) {
    throw new GgufError(`truncated file: tensor data should start at byte ${dataOffset}, but the file has ${fileSize} bytes`);
  }
  const dataBytes = Math.max(0, fileSize - dataOffset);

  const tensors: GgufTensorInfo[] = raw.map((t) => {
    const layout = ggmlTypeLayout(t.type);
    if (!layout) throw new GgufError(`corrupt or unsupported file: tensor "${t.name}" has unknown tensor type ${t.type}`);
    let elementCount = 1;
    for (const d of t.dims) {
      elementCount *= d;
      if (!Number.isSafeInteger(elementCount)) {
        throw new GgufError(`corrupt file: tensor "${t.name}" shape [${t.dims.join(', ')}] has too many elements`);
      }
    }
    const rowLength = t.dims[0];
    if (rowLength % layout.blockSize !== 0) {
      throw new GgufError(
        `corrupt file: tensor "${t.name}" of type ${ggmlTypeName(t.type)} has rows of ${rowLength} elements, not a multiple of its block size ${layout.blockSize}`,
      );
    }
    const rowBytes = (rowLength / layout.blockSize) * layout.blockBytes;
    const rowCount = rowLength === 0 ? 0 : elementCount / rowLength;
    const byteSize = rowBytes * rowCount;
    if (!Number.isSafeInteger(byteSize)) throw new GgufError(`corrupt file: tensor "${t.name}" is too large`);
    if (t.relativeOffset % alignment !== 0) {
      throw new GgufError(`corrupt file: tensor "${t.name}" data offset ${t.relativeOffset} is not a multiple of the alignment ${alignment}`);
    }
    if (t.relativeOffset + byteSize > dataBytes) {
      throw new GgufError(
        `truncated or corrupt file: tensor "${t.name}" (${byteSize} bytes at data offset ${t.relativeOffset}) ends past the end of the file ` +
          `(data section holds ${dataBytes} bytes)`,
      );
    }
    return {
      name: t.name,
      dims: t.dims,
      shape: t.dims.slice().reverse(),
      type: t.type,
      typeName: ggmlTypeName(t.type),
      elementCount,
      byteSize,
      relativeOffset: t.relativeOffset,
      offset: dataOffset + t.relativeOffset,
      rowLength,
      rowCount,
      rowBytes,
    };
  });

  return { version, metadata, tensors, alignment, dataOffset, fileSize };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function readValue(cur: HeaderCursor, type: GgufValueType, key: string, depth: number): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return cur.u8(`value of "${key}"`);
    case GgufValueType.INT8:
      return cur.i8(`value of "${key}"`);
    case GgufValueType.UINT16:
      return cur.u16(`value of "${key}"`);
    case GgufValueType.INT16:
      return cur.i16(`value of "${key}"`);
    case GgufValueType.UINT32:
      return cur.u32(`value of "${key}"`);
    case GgufValueType.INT32:
      return cur.i32(`value of "${key}"`);
    case GgufValueType.FLOAT32:
      return cur.f32(`value of "${key}"`);
    case GgufValueType.FLOAT64:
      return cur.f64(`value of "${key}"`);
    case GgufValueType.UINT64:
      return cur.u64(`value of "${key}"`);
    case GgufValueType.INT64:
      return cur.i64(`value of "${key}"`);
    case GgufValueType.BOOL: {
      const b = cur.u8(`value of "${key}"`);
      if (b > 1) throw new GgufError(`corrupt file: BOOL value of "${key}" is ${b} (must be 0 or 1) at byte ${cur.pos - 1}`);
      return b === 1;
    }
    case GgufValueType.STRING:
      return cur.string(`value of "${key}"`);
    case GgufValueType.ARRAY:
      return readArray(cur, key, depth + 1);
  }
}

function readArray(cur: HeaderCursor, key: string, depth: number): GgufArrayValue {
  if (depth > MAX_ARRAY_NESTING) throw new GgufError(`corrupt file: arrays nested more than ${MAX_ARRAY_NESTING} deep in "${key}"`);
  const elemTag = cur.u32(`array element type of "${key}"`);
  if (!isGgufValueType(elemTag)) {
    throw new GgufError(`corrupt file: unknown array element type ${elemTag} for metadata key "${key}" at byte ${cur.pos - 4}`);
  }
  const elementType: GgufValueType = elemTag;
  const n = cur.count(`array length of "${key}"`, Math.floor(Math.max(0, cur.remaining - 8) / minValueSize(elementType)));
  const what = `array "${key}"`;
  switch (elementType) {
    case GgufValueType.UINT8:
      return { elementType, values: new Uint8Array(copyOut(cur, n, 1, what)) };
    case GgufValueType.INT8:
      return { elementType, values: new Int8Array(copyOut(cur, n, 1, what)) };
    case GgufValueType.UINT16:
      return { elementType, values: new Uint16Array(copyOut(cur, n, 2, what)) };
    case GgufValueType.INT16:
      return { elementType, values: new Int16Array(copyOut(cur, n, 2, what)) };
    case GgufValueType.UINT32:
      return { elementType, values: new Uint32Array(copyOut(cur, n, 4, what)) };
    case GgufValueType.INT32:
      return { elementType, values: new Int32Array(copyOut(cur, n, 4, what)) };
    case GgufValueType.FLOAT32:
      return { elementType, values: new Float32Array(copyOut(cur, n, 4, what)) };
    case GgufValueType.FLOAT64:
      return { elementType, values: new Float64Array(copyOut(cur, n, 8, what)) };
    case GgufValueType.UINT64:
      return { elementType, values: new BigUint64Array(copyOut(cur, n, 8, what)) };
    case GgufValueType.INT64:
      return { elementType, values: new BigInt64Array(copyOut(cur, n, 8, what)) };
    case GgufValueType.BOOL: {
      const bytes = cur.bytes(n, what);
      const values = new Array<boolean>(n);
      for (let i = 0; i < n; i++) {
        if (bytes[i] > 1) throw new GgufError(`corrupt file: element ${i} of BOOL ${what} is ${bytes[i]} (must be 0 or 1)`);
        values[i] = bytes[i] === 1;
      }
      return { elementType, values };
    }
    case GgufValueType.STRING: {
      const values = new Array<string>(n);
      for (let i = 0; i < n; i++) values[i] = cur.string(`element ${i} of ${what}`);
      return { elementType, values };
    }
    case GgufValueType.ARRAY: {
      const values = new Array<GgufArrayValue>(n);
      for (let i = 0; i < n; i++) values[i] = readArray(cur, `${key}[${i}]`, depth + 1);
      return { elementType, values };
    }
  }
}

/** Copies n little-endian elements of `width` bytes into a fresh, aligned ArrayBuffer. */
function copyOut(cur: HeaderCursor, n: number, width: number, what: string): ArrayBuffer {
  const bytes = cur.bytes(n * width, what);
  const ab = new ArrayBuffer(n * width);
  new Uint8Array(ab).set(bytes);
  return ab;
}
