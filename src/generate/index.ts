/** Text generation on model folders: load, generate, stream, score. */
export { ContrastModel, load, RuntimeSession, type AmateurPath, type ContrastPlan, type ExitInfo, type ExpertPlan, type LoadModelOptions } from './model';
export {
  continuationText, contrastPlan, encodePrompt, expertPlan, generate, planContrast, runGeneration, score, scoreByStepping, stream, streamResolved,
  type GenerationRequest,
  type GeneratedText, type GenerateResult, type GenerateTextOptions, type GenerationTiming, type Prompt, type ScoreOptions, type ScoreResult, type StreamOptions,
} from './generate';
export { checkScoreLayers, releaseScoring, scoreBatch, scoringSession, sharedHead, windowItems, type ScoreBatchOptions, type ScoredItem, type ScoreItem, type TokenScores } from './score-batch';
export { finalHeadSpan, findHeadInitializers, loadHeadWeights, type HeadWeights } from './heads';
export { readOnnxGraph, loadInitializer, type OnnxGraphInfo, type OnnxInitializerInfo, type OnnxNodeInfo } from './onnx-reader';
export { ChunkedText, cutAtStop, StopWatcher, TextStreamer } from './streamer';
