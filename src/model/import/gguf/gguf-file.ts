import { BufferByteSource, ByteSource, FileByteSource } from './byte-source';
import { dequantize } from './dequantize/index';
import { GgufError } from './errors';
import type { GgufMetadata } from './metadata';
import { GgufHeader, parseGgufHeader } from './parse-header';
import { Q4Blocks, readQ4Blocks } from './q4-blocks';
import { Q8Blocks, readQ8Blocks } from './q8-blocks';
import type { GgufTensorInfo } from './tensor-info';
import { ggmlTypeLayout } from './tensor-types';

/**
 * An opened GGUF file: parsed header plus on-demand access to tensor data through the
 * underlying {@link ByteSource} (for files: a file descriptor; nothing is read until asked for).
 * Call {@link GgufFile.close} when done.
 */
export class GgufFile implements GgufHeader {
  readonly version: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataOffset: number;
  readonly fileSize: number;
  private readonly byName: Map<string, GgufTensorInfo>;

  /** Parses the header of `source`; the file takes ownership and closes the source on error. */
  constructor(private readonly source: ByteSource) {
    let h: GgufHeader;
    try {
      h = parseGgufHeader(source);
    } catch (e) {
      source.close();
      throw e;
    }
    this.version = h.version;
    this.metadata = h.metadata;
    this.tensors = h.tensors;
    this.alignment = h.alignment;
    this.dataOffset = h.dataOffset;
    this.fileSize = h.fileSize;
    this.byName = new Map(h.tensors.map((t) => [t.name, t]));
  }

  /** `general.architecture`, or undefined. */
  get architecture(): string | undefined {
    return this.metadata.getStringOr('general.architecture', undefined);
  }

  /** The tensor named `name`, or undefined. */
  findTensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** The tensor named `name`; throws a {@link GgufError} listing nothing else when absent. */
  tensor(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new GgufError(`GGUF file has no tensor "${name}"`);
    return t;
  }

  private info(t: GgufTensorInfo | string): GgufTensorInfo {
    return typeof t === 'string' ? this.tensor(t) : t;
  }

  /** The raw stored bytes of a tensor (any type). */
  readTensorBytes(t: GgufTensorInfo | string): Buffer {
    const info = this.info(t);
    return this.source.read(info.offset, info.byteSize);
  }

  /** The raw bytes of rows [rowStart, rowStart + rowCount) of a tensor (a row is dims[0] elements). */
  readRowBytes(t: GgufTensorInfo | string, rowStart: number, rowCount: number): Buffer {
    const info = this.info(t);
    checkRows(info, rowStart, rowCount);
    return this.source.read(info.offset + rowStart * info.rowBytes, rowCount * info.rowBytes);
  }

  /** The whole tensor as float32 (row-major in {@link GgufTensorInfo.shape} order). */
  readTensorFloat32(t: GgufTensorInfo | string): Float32Array {
    const info = this.info(t);
    return dequantize(info.type, this.readTensorBytes(info), info.elementCount);
  }

  /**
   * Rows [rowStart, rowStart + rowCount) as float32, for streaming large tensors.
   * @param out optional destination of at least rowCount * rowLength elements.
   */
  readRowsFloat32(t: GgufTensorInfo | string, rowStart: number, rowCount: number, out?: Float32Array): Float32Array {
    const info = this.info(t);
    return dequantize(info.type, this.readRowBytes(info, rowStart, rowCount), rowCount * info.rowLength, out);
  }

  /** The Q4_0/Q4_1 blocks of rows [rowStart, rowStart + rowCount) without dequantising. */
  readQ4Rows(t: GgufTensorInfo | string, rowStart: number, rowCount: number): Q4Blocks {
    const info = this.info(t);
    const layout = ggmlTypeLayout(info.type);
    const blocks = layout ? (rowCount * info.rowLength) / layout.blockSize : 0;
    return readQ4Blocks(info.type, this.readRowBytes(info, rowStart, rowCount), blocks);
  }

  /** The Q8_0 blocks of rows [rowStart, rowStart + rowCount) without dequantising. */
  readQ8Rows(t: GgufTensorInfo | string, rowStart: number, rowCount: number): Q8Blocks {
    const info = this.info(t);
    const layout = ggmlTypeLayout(info.type);
    const blocks = layout ? (rowCount * info.rowLength) / layout.blockSize : 0;
    return readQ8Blocks(info.type, this.readRowBytes(info, rowStart, rowCount), blocks);
  }

  /** Closes the file descriptor. Further data reads throw. */
  close(): void {
    this.source.close();
  }
}

function checkRows(info: GgufTensorInfo, rowStart: number, rowCount: number): void {
  if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowCount) || rowStart < 0 || rowCount < 0 || rowStart + rowCount > info.rowCount) {
    throw new GgufError(`rows [${rowStart}, ${rowStart + rowCount}) out of range for tensor "${info.name}" with ${info.rowCount} rows`);
  }
}

/**
 * Opens a GGUF file and parses its header; tensor data stays on disk and is read on demand.
 * @throws {GgufError} for malformed files; Node's fs errors when the file cannot be opened.
 */
export function readGguf(path: string): GgufFile {
  return new GgufFile(new FileByteSource(path));
}

/** Parses a GGUF image held in memory (tests, or files already loaded). */
export function readGgufBuffer(bytes: Uint8Array): GgufFile {
  return new GgufFile(new BufferByteSource(bytes));
}
