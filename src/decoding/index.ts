/** Decoding strategies and logit processors. */
export { buildProcessors } from './chain';
export { generateTokens, type FinishReason, type GeneratedSequence, type GenerationResult } from './generate';
export { resolveOptions, type ContrastSettings, type GenerateOptions, type Strategy } from './options';
export { argmax, kthLargest, logSoftmaxInPlace, minNewTokens, repetitionPenalty, temperature, topK, topP, type LogitsProcessor, type ProcessorContext } from './processors';
export { SeededRandom } from './random';
export type { DecoderModel, DecoderSession, StepOutput } from './session';
