/**
 * Trained exit heads given as a separate safetensors file (`--heads FILE`): tensors named
 * `exit_heads.{L}.weight` ([V, d]) and optionally `exit_heads.{L}.bias` ([V]).
 */
import type { ExitSpec } from '../graph/decoder-config';
import type { WeightTensor } from '../graph/onnx/tensor-source';
import { SafetensorsCheckpoint } from '../safetensors/checkpoint';
import { ConvertError } from './convert-error';

/** Heads read from a file: their weights (lazy) and one `head` exit per layer. */
export interface HeadsFromFile {
  /** Weights to merge into the model's weight map. */
  readonly weights: Map<string, WeightTensor>;
  /** Exit layers found, sorted. */
  readonly layers: number[];
  /** Builds the exit specifications for some of the layers. */
  exits(layers: readonly number[]): ExitSpec[];
  /** Closes the file. */
  close(): void;
}

const HEAD_NAME = /^exit_heads\.(\d+)\.(weight|bias)$/;

/**
 * Opens a heads file and checks each head is [vocabSize, hiddenSize].
 * @throws {ConvertError} when the file has no heads or a head has the wrong shape.
 */
export function readHeadsFile(file: string, vocabSize: number, hiddenSize: number): HeadsFromFile {
  const ck = SafetensorsCheckpoint.openFile(file);
  try {
    const weights = new Map<string, WeightTensor>();
    const layers = new Set<number>();
    const biased = new Set<number>();
    for (const name of ck.names()) {
      const m = HEAD_NAME.exec(name);
      if (!m) continue;
      const layer = Number(m[1]);
      const dims = ck.info(name).shape;
      const want = m[2] === 'weight' ? [vocabSize, hiddenSize] : [vocabSize];
      if (dims.length !== want.length || dims.some((d, i) => d !== want[i])) {
        throw new ConvertError(`${file}: ${name} has shape [${dims.join(', ')}], expected [${want.join(', ')}] for this model`);
      }
      weights.set(name, { dims: [...dims], data: () => ck.readFloat32(name) });
      if (m[2] === 'weight') layers.add(layer);
      else biased.add(layer);
    }
    if (layers.size === 0) throw new ConvertError(`${file}: no exit_heads.{L}.weight tensors found`);
    const sorted = [...layers].sort((a, b) => a - b);
    return {
      weights,
      layers: sorted,
      exits: (want) =>
        want.map((layer) => {
          if (!layers.has(layer)) throw new ConvertError(`${file} has no head for exit layer ${layer} (heads: ${sorted.join(', ')})`);
          return { layer, kind: 'head' as const, bias: biased.has(layer) ? `exit_heads.${layer}.bias` : undefined };
        }),
      close: () => ck.close(),
    };
  } catch (e) {
    ck.close();
    throw e;
  }
}
