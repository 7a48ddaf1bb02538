/**
 * Writes a {@link GraphBuilder}'s graph as an ONNX model file plus one external-data file.
 * Initializers larger than a threshold are streamed into the data file one at a time (each is
 * materialised, written, and released before the next), so peak memory is about one tensor.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GraphBuilder } from './graph-builder';
import { encodeModel } from './onnx-proto-encoder';
import type { ModelDef, TensorDef } from './onnx-types';
import { sourceByteLength } from './tensor-source';

/** Options for {@link writeOnnxModel}. */
export interface WriteOnnxOptions {
  /** Folder the files are written into (must exist). */
  readonly dir: string;
  /** Model file name (default `model.onnx`). */
  readonly modelFile?: string;
  /** External data file name (default `<modelFile>.data`). */
  readonly dataFile?: string;
  /** Initializers of at most this many bytes are stored inline (default 1024). */
  readonly inlineThreshold?: number;
  /** Byte alignment of each tensor in the data file (default 4096, one page, so it can be memory-mapped). */
  readonly alignment?: number;
  /** Extra `metadata_props` entries. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Called after each external tensor is written with bytes done and bytes total. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** What {@link writeOnnxModel} wrote. */
export interface WrittenOnnxModel {
  /** Absolute path of the model file. */
  readonly modelPath: string;
  /** Absolute path of the data file, or null when every initializer was inline. */
  readonly dataPath: string | null;
  /** Size of the model file in bytes. */
  readonly modelBytes: number;
  /** Size of the data file in bytes (0 when none). */
  readonly dataBytes: number;
}

/** Bytes written between two progress reports inside one tensor. */
const PROGRESS_SLICE = 8 << 20;

/** ONNX IR version written (8 = ONNX 1.13, goes with opsets 17 and 18). */
export const IR_VERSION = 8;

/** Writes the model and its external data. See {@link WriteOnnxOptions}. */
export async function writeOnnxModel(graph: GraphBuilder, options: WriteOnnxOptions): Promise<WrittenOnnxModel> {
  if (os.endianness() !== 'LE') throw new Error('writing ONNX tensors requires a little-endian machine');
  graph.validate();
  const modelFile = options.modelFile ?? 'model.onnx';
  const dataFile = options.dataFile ?? `${modelFile}.data`;
  const threshold = options.inlineThreshold ?? 1024;
  const alignment = Math.max(1, options.alignment ?? 4096);
  const modelPath = path.resolve(options.dir, modelFile);
  const dataPath = path.resolve(options.dir, dataFile);

  const external = graph.initializers.filter((i) => sourceByteLength(i.source) > threshold);
  const totalBytes = external.reduce((s, i) => s + sourceByteLength(i.source), 0);
  const tensors: TensorDef[] = [];
  let offset = 0;
  let done = 0;
  const fh = external.length > 0 ? await fs.open(dataPath, 'w') : null;
  options.onProgress?.(0, totalBytes);
  try {
    for (const init of graph.initializers) {
      const { source } = init;
      const length = sourceByteLength(source);
      const bytes = await source.bytes();
      if (bytes.length !== length) {
        throw new RangeError(`initializer ${init.name}: ${bytes.length} bytes produced, ${length} expected`);
      }
      if (length <= threshold || !fh) {
        tensors.push({ name: init.name, dataType: source.dataType, dims: source.dims, raw: bytes.slice() });
        continue;
      }
      offset = Math.ceil(offset / alignment) * alignment;
      let written = 0;
      // In slices, so progress moves through a large tensor (an embedding can be half the model) too.
      while (written < length) {
        const r = await fh.write(bytes, written, Math.min(length - written, PROGRESS_SLICE), offset + written);
        written += r.bytesWritten;
        if (written < length) options.onProgress?.(done + written, totalBytes);
      }
      tensors.push({
        name: init.name,
        dataType: source.dataType,
        dims: source.dims,
        external: { location: dataFile, offset, length },
      });
      offset += length;
      done += length;
      options.onProgress?.(done, totalBytes);
    }
  } finally {
    await fh?.close();
  }

  const bytes = encodeModel(modelDef(graph, tensors, options.metadata ?? {}));
  await fs.writeFile(modelPath, bytes);
  return { modelPath, dataPath: fh ? dataPath : null, modelBytes: bytes.length, dataBytes: fh ? offset : 0 };
}

function modelDef(graph: GraphBuilder, tensors: readonly TensorDef[], metadata: Readonly<Record<string, string>>): ModelDef {
  return {
    irVersion: IR_VERSION,
    opsetImports: graph.opsetImports(),
    producerName: 'autocontrast',
    producerVersion: '0.1.0',
    metadata,
    graph: { name: graph.name, nodes: graph.nodes, initializers: tensors, inputs: graph.inputs, outputs: graph.outputs },
  };
}

/**
 * Encodes a graph as one in-memory ONNX model with every initializer inline (for small graphs opened
 * straight from memory, such as the scoring path's head projection; protobuf caps a model at 2 GiB).
 */
export async function encodeOnnxModel(graph: GraphBuilder): Promise<Uint8Array> {
  if (os.endianness() !== 'LE') throw new Error('writing ONNX tensors requires a little-endian machine');
  graph.validate();
  const tensors: TensorDef[] = [];
  for (const init of graph.initializers) {
    const bytes = await init.source.bytes();
    tensors.push({ name: init.name, dataType: init.source.dataType, dims: init.source.dims, raw: bytes });
  }
  return encodeModel(modelDef(graph, tensors, {}));
}
