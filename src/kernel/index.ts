/**
 * autocontrast: auto-contrastive decoding (Gera et al. 2023) for language models run with ONNX Runtime.
 * @packageDocumentation
 */
export {
  acdLogProbs,
  acdLogProbsAsync,
  acdLogProbsSparse,
  acdLogProbsSparseAsync,
  availableBackends,
  backend,
  cdScores,
  cdScoresAsync,
  cdScoresSparse,
  cdScoresSparseAsync,
  contrast,
  contrastDevicePointers,
  cudaInfo,
} from './contrast';
export { fromHalfBits, toBfloat16, toFloat16 } from './half';
export { nativeInfo } from './native';
export type {
  Backend,
  ContrastMode,
  ContrastOptions,
  ContrastResult,
  CudaInfo,
  DeviceContrastOptions,
  DevicePointers,
  Dtype,
  Logits,
  SparseContrastOptions,
} from './types';
export { headLogits } from './head';
export { createContrast, createSparseContrast } from './prepared';
export type {
  PreparedContrast,
  PreparedContrastBase,
  PreparedContrastOptions,
  PreparedSparseContrast,
  PreparedSparseContrastOptions,
} from './prepared';
export type { HeadLogitsOptions } from './head';
export { candidateLogits, dolaContrast, dolaContrastAsync, dolaError } from './dola';
export type { DolaCandidates, DolaDivergence, DolaError, DolaHead, DolaOptions, DolaOutput, DolaResult } from './dola';
export { dolaBucket, resolveDolaLayers } from './dola-layers';
export type { DolaLayers } from './dola-layers';
export { compactHead } from './compact-head';
export type { CompactHead } from './compact-head';
export { int8Head } from './int8-head';
export type { Int8Head } from './int8-head';
