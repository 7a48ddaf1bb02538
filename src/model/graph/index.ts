/**
 * Multi-exit decoder graph builders (GPT-2, Llama family), the ONNX writer they use, and seeded
 * random weights for tests and benchmarks.
 */
export * from './decoder-config';
export { buildDecoderGraph } from './build-decoder';
export { buildGpt2Graph } from './gpt2';
export { buildLlamaGraph, llamaHeadDim } from './llama';
export { WEIGHT_FORMS, isWeightForm, weightFormSpec, builtWeightForm, type WeightForm, type WeightFormSpec } from './weight-forms';
export { buildFusedGpt2Graph, canFuseGpt2 } from './fused-gpt2';
export { buildFusedLlamaGraph, canFuseLlama, rotaryCache } from './fused-llama';
export type { BuiltDecoderGraph } from './decoder-graph';
export type { BuiltExit } from './decoder-outputs';
export { IO, DIM, pastName, presentName, exitHiddenName, exitLogitsName } from './io-names';
export { ropeInverseFrequencies } from './rotary';
export * from './named-configs';
export {
  mulberry32,
  gaussian,
  hashSeed,
  tinyGpt2Weights,
  tinyLlamaWeights,
  tinyDecoderWeights,
  addRandomExitWeights,
  type RandomWeightOptions,
} from './random-weights';
export type { WeightTensor, WeightMap, Float32Data, TensorSource, Q4Weight, Q4WeightBlocks } from './onnx/tensor-source';
export { matMulNBits, canQuantize, canQuantizeQ8, q8Projection, symmetricQ4Projection, requantizeSymmetricBlock, requantizeQ4Symmetric, type MatMulNBitsOptions } from './matmul-nbits';
export { writeOnnxModel, type WriteOnnxOptions, type WrittenOnnxModel } from './onnx/write-onnx-model';
export { GraphBuilder } from './onnx/graph-builder';
export { graphWithoutHead, type HeadSpan } from './onnx/without-head';
export { bertConfigFromHf, buildBertEncoderGraph, type BertConfig } from './bert';
export { Ops } from './onnx/ops';
