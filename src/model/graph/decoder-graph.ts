/**
 * The result type of the decoder builders and the pieces of graph set-up they share.
 */
import type { DecoderConfig, DecoderBuildOptions, GraphForm } from './decoder-config';
import type { builtWeightForm } from './weight-forms';
import type { BuiltExit } from './decoder-outputs';
import { DIM, presentName } from './io-names';
import { GraphBuilder } from './onnx/graph-builder';
import { OnnxDataType } from './onnx/onnx-types';

/** A decoder graph ready to be written, with a description of its interface. */
export interface BuiltDecoderGraph {
  /** The graph (initializer data is still lazy). */
  readonly graph: GraphBuilder;
  /** The configuration it was built from. */
  readonly config: DecoderConfig;
  /** Key/value heads. */
  readonly numKvHeads: number;
  /** Head width. */
  readonly headDim: number;
  /** Positions covered by `logits` and exit outputs. */
  readonly logitPositions: NonNullable<DecoderBuildOptions['logitPositions']>;
  /** Exits as built. */
  readonly exits: readonly BuiltExit[];
  /** Weight names in the map that the graph does not use. */
  readonly unusedWeights: readonly string[];
  /** The graph form built (absent: `reference`). */
  readonly graphForm?: GraphForm;
  /** The weight form the graph holds (absent: `float32`; see {@link builtWeightForm}). */
  readonly weightForm?: ReturnType<typeof builtWeightForm>;
}

/** Declares the `present.{i}.key/value` outputs (produced by the attention Concat nodes). */
export function declarePresentOutputs(g: GraphBuilder, numLayers: number, kvHeads: number, headDim: number): void {
  for (let i = 0; i < numLayers; i++) {
    for (const which of ['key', 'value'] as const) {
      g.output(presentName(i, which), OnnxDataType.FLOAT, [DIM.batch, kvHeads, DIM.total, headDim]);
    }
  }
}

/** Checks the hyper-parameters every architecture shares. */
export function checkBaseConfig(c: DecoderConfig, headDim: number, kvHeads: number): void {
  const positive = ['numLayers', 'hiddenSize', 'numHeads', 'vocabSize', 'contextLength', 'intermediateSize'] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new RangeError(`config.${k} must be a positive integer (got ${c[k]})`);
  }
  if (!Number.isInteger(headDim) || headDim <= 0) throw new RangeError(`head dim must be a positive integer (got ${headDim})`);
  if (!Number.isInteger(kvHeads) || kvHeads <= 0 || c.numHeads % kvHeads !== 0) {
    throw new RangeError(`numKvHeads (${kvHeads}) must divide numHeads (${c.numHeads})`);
  }
  if (!(c.normEpsilon > 0)) throw new RangeError(`config.normEpsilon must be positive (got ${c.normEpsilon})`);
}

/** A new graph builder for a decoder, with the requested opset. */
export function newDecoderGraph(name: string, options: DecoderBuildOptions): GraphBuilder {
  return new GraphBuilder(name, options.opset ?? 17);
}
