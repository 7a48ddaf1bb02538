/** Evaluation: the paper's experiments (LAMBADA, WikiText, open-ended generation) on the library's own runtime, and their report. */
export { EvalError, type EvalErrorCode } from './errors';
export { cosine, diversityMetrics, lambadaMetrics, ngrams, rollingMetrics, wordCount, words, type DiversityMetrics, type LambadaMetrics, type RollingMetrics } from './metrics';
export { DATA_FILES, defaultDataDir, OPEN_ENDED_SETS, readLambada, readOpenEnded, readWikitext, splitWikitextArticles, type OpenEndedPrompt } from './data';
export { ResultCache } from './cache';
export { EvalProgress, formatDuration } from './progress';
export { runScoring, type DistributionScores, type ScoringRunOptions } from './scoring-run';
export { harnessPrefixToken, lambadaRequest, lambadaScores, runLambada, splitLambada, type LambadaRequest, type LambadaScores } from './lambada';
export { detokenizeWikitext, rollingWindows, runWikitext, type WikitextScores } from './wikitext';
export { checkEvalOptions, evaluate, resolveLayers, resultFile, TASKS, totalSpeed, type EvalOptions, type EvalResult, type Task } from './evaluate';
export { equalLengthDiversity, isOpenEndedStrategy, OPEN_ENDED_STRATEGIES, runOpenEnded, type EqualLengthDiversity, type OpenEndedConfigResult, type OpenEndedOptions, type OpenEndedRecord } from './open-ended';
export { libraryVersion, stamp, type Stamp } from './stamp';
export { PAPER_FIGURES, writeReport, type ReportOptions } from './report';
export { lineChart, niceTicks, xmlEscape, type ChartSpec, type Series } from './svg';
export { coherence, convertEmbedder, EMBEDDER, fetchEmbedderSource, pullEmbedder, SentenceEmbedder } from './embedder';
