/** Text generation on model folders: load, generate, stream, score. */
export { ContrastModel, load, RuntimeSession, type AmateurPath, type ContrastPlan, type ExitInfo, type ExpertPlan, type LoadModelOptions } from './model';
export {
  continuationText, contrastPlan, encodePrompt, expertPlan, generate, score, stream,
  type GeneratedText, type GenerateResult, type GenerateTextOptions, type GenerationTiming, type Prompt, type ScoreOptions, type ScoreResult, type StreamOptions,
} from './generate';
export { findHeadInitializers, loadHeadWeights, type HeadWeights } from './heads';
export { readOnnxGraph, loadInitializer, type OnnxGraphInfo, type OnnxInitializerInfo, type OnnxNodeInfo } from './onnx-reader';
