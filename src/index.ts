/**
 * autocontrast: auto-contrastive decoding (Gera et al. 2023) for language models run with ONNX Runtime.
 * The package's public surface; each layer lives in its own folder.
 * @packageDocumentation
 */
export * from './errors';
export {
  API_ONLY_OPTIONS, DEFAULT_ALPHA, GENERATION_OPTIONS, optionLabel, resolveGeneration,
  type AmateurPathChoice, type ContrastConfig, type GenerationOptionValues, type OptionDef, type OptionName, type OptionNaming, type ResolvedGeneration,
} from './config/generation';
export { ENVIRONMENT_VARIABLES, type EnvironmentVariable } from './config/env';
export * from './kernel';
export * from './model/import';
export * from './model/graph';
export * from './model/manifest';
export * from './decoding';
export * from './model/convert';
export * from './model/safetensors';
export * from './model/pull';
export * as runtime from './runtime';
export * from './generate';
export * from './train';
export * from './server';
export {
  evaluate, writeReport, EvalError, diversityMetrics, lambadaMetrics, rollingMetrics, detokenizeWikitext, rollingWindows, lambadaRequest,
  type EvalOptions, type EvalResult, type EvalErrorCode, type ReportOptions, type Task as EvalTask,
} from './eval';
