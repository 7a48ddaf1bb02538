/** Decoding strategies and logit processors. */
export { buildProcessors } from './chain';
export { generateTokens, type FinishReason, type GeneratedSequence, type GenerationResult } from './generate';
export { resolveOptions, type ContrastSettings, type GenerateOptions, type ResolvedOptions, type Strategy } from './options';
export { contrastStep } from './pipeline';
export { decodeLoop, type Selection, type Selector } from './loop';
export { argmax, kthLargest, logSoftmaxInPlace, minNewTokens, repetitionPenalty, temperature, topK, topP, type LogitsProcessor, type ProcessorContext } from './processors';
export { drawIndex, DRAW_CHUNKS, SeededRandom } from './random';
export type { AmateurHidden, DecoderModel, DecoderSession, StepOutput } from './session';
