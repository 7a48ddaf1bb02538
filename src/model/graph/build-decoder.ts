/**
 * Architecture dispatch: builds the decoder graph for any {@link DecoderConfig}.
 */
import type { DecoderBuildOptions, DecoderConfig } from './decoder-config';
import type { BuiltDecoderGraph } from './decoder-graph';
import { buildFusedGpt2Graph, canFuseGpt2 } from './fused-gpt2';
import { buildGpt2Graph } from './gpt2';
import { buildFusedLlamaGraph, canFuseLlama } from './fused-llama';
import { buildLlamaGraph } from './llama';
import type { WeightMap } from './onnx/tensor-source';

/**
 * Builds the multi-exit decoder graph for `config.architecture` from `weights`. `graphForm: 'fused'`
 * builds the fused form where the architecture has one and ONNX Runtime's kernels accept the shapes
 * (see {@link canFuseLlama}); otherwise the reference form, which computes the same function.
 */
export function buildDecoderGraph(config: DecoderConfig, weights: WeightMap, options: DecoderBuildOptions = {}): BuiltDecoderGraph {
  switch (config.architecture) {
    case 'gpt2':
      return options.graphForm === 'fused' && canFuseGpt2(config) ? buildFusedGpt2Graph(config, weights, options) : buildGpt2Graph(config, weights, options);
    case 'llama':
      return options.graphForm === 'fused' && canFuseLlama(config)
        ? buildFusedLlamaGraph(config, weights, options)
        : buildLlamaGraph(config, weights, options);
    default:
      throw new RangeError(`unsupported architecture "${(config as { architecture: string }).architecture}"`);
  }
}
