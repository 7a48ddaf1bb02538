/**
 * Open-ended generation (the paper's section 4.2.1): continuations of benchmark prompts with greedy, beam,
 * top-k and top-p decoding, each plain and contrasted, measured by n-gram repetition and diversity, length and
 * speed (tokens per second of decoding, plain next to contrasted).
 */
import type { Strategy } from '../decoding/options';
import { generate, type GenerateTextOptions } from '../generate/generate';
import type { ContrastModel } from '../generate/model';
import { ResultCache } from './cache';
import type { OpenEndedPrompt } from './data';
import { coherence, type SentenceEmbedder } from './embedder';
import { diversityMetrics, type DiversityMetrics } from './metrics';
import { EvalProgress } from './progress';

/** The paper's decoding settings: beam 5, top-k 50, top-p 0.95. */
export const OPEN_ENDED_STRATEGIES: Readonly<Record<string, GenerateTextOptions>> = {
  greedy: { strategy: 'greedy' },
  beam: { strategy: 'beam', numBeams: 5 },
  'top-k': { strategy: 'top-k', topK: 50 },
  'top-p': { strategy: 'top-p', topP: 0.95 },
};

/** One generated continuation as cached. */
export interface OpenEndedRecord {
  /** `prompt index * 1000 + config index` (unique per prompt and configuration). */
  i: number;
  text: string;
  tokens: number;
  ms: number;
}

/** Results of one configuration (strategy x plain/contrasted). */
export interface OpenEndedConfigResult extends DiversityMetrics {
  strategy: string;
  contrast: boolean;
  n: number;
  meanTokens: number;
  tokensPerSecond: number;
  /** A sample continuation (the first prompt's). */
  sample: string;
  /**
   * Mean cosine similarity of the prompt's and the continuation's all-MiniLM-L6-v2 embeddings (the paper used
   * SimCSE); null when the encoder was not available (see `coherenceNote`).
   */
  coherence: number | null;
}

/** Options of {@link runOpenEnded}. */
export interface OpenEndedOptions {
  strategies: readonly string[];
  amateurLayer: number;
  alpha: number;
  mode: 'acd' | 'cd';
  maxNewTokens: number;
  seed: number;
  batch: number;
  cacheFile?: string;
  settings?: object;
  progress?: boolean;
  signal?: AbortSignal;
  /** Sentence encoder for coherence (null: coherence not measured). */
  embedder?: SentenceEmbedder | null;
}

/** Generates for every prompt, strategy and plain/contrasted, and measures each configuration. */
export async function runOpenEnded(model: ContrastModel, prompts: readonly OpenEndedPrompt[], o: OpenEndedOptions): Promise<OpenEndedConfigResult[]> {
  const configs = o.strategies.flatMap((s) => [false, true].map((contrast) => ({ s, contrast })));
  const cache = o.cacheFile ? new ResultCache<OpenEndedRecord>(o.cacheFile, o.settings ?? {}) : null;
  // Records of prompts beyond this run's limit stay in the cache but do not count here.
  const done = new Map<number, OpenEndedRecord>(cache ? [...cache.done].filter(([i]) => Math.floor(i / 1000) < prompts.length) : []);
  const total = configs.length * prompts.length;
  const progress = new EvalProgress('open-ended', total, done.size, process.stderr, o.progress !== false);
  const results: OpenEndedConfigResult[] = [];
  try {
    for (let c = 0; c < configs.length; c++) {
      const { s, contrast } = configs[c];
      const gen: GenerateTextOptions = {
        ...OPEN_ENDED_STRATEGIES[s],
        maxNewTokens: o.maxNewTokens,
        ...(s === 'top-k' || s === 'top-p' ? { seed: o.seed } : {}),
        ...(contrast ? { contrast: true, amateurLayer: o.amateurLayer, alpha: o.alpha, mode: o.mode } : { contrast: false }),
      };
      // Beam search runs one prompt at a time; the other strategies run batches of prompts.
      const B = s === 'beam' ? 1 : o.batch;
      const todo = prompts.map((_, p) => p).filter((p) => !done.has(p * 1000 + c));
      for (let k = 0; k < todo.length; k += B) {
        if (o.signal?.aborted) break;
        const idx = todo.slice(k, k + B);
        const t0 = performance.now();
        const rs = await generate(model, idx.map((p) => prompts[p].prompt), gen);
        const ms = performance.now() - t0;
        const recs = rs.map((r, j) => ({ i: idx[j] * 1000 + c, text: r.text, tokens: r.tokens.length, ms: ms / rs.length }));
        cache?.add(recs);
        for (const r of recs) done.set(r.i, r);
        progress.update(done.size);
      }
      const recs = prompts.map((_, p) => done.get(p * 1000 + c)).filter((r): r is OpenEndedRecord => !!r);
      const tokens = recs.reduce((a, r) => a + r.tokens, 0);
      const ms = recs.reduce((a, r) => a + r.ms, 0);
      results.push({
        strategy: s,
        contrast,
        n: recs.length,
        ...diversityMetrics(recs.map((r) => r.text)),
        meanTokens: recs.length ? tokens / recs.length : 0,
        tokensPerSecond: ms > 0 ? tokens / (ms / 1000) : 0,
        sample: recs[0]?.text ?? '',
        coherence: o.embedder
          ? await coherence(o.embedder, recs.map((r) => prompts[Math.floor(r.i / 1000)].prompt), recs.map((r) => r.text))
          : null,
      });
    }
  } finally {
    progress.done();
    cache?.close();
  }
  return results;
}

/** The strategy names {@link runOpenEnded} knows. */
export function isOpenEndedStrategy(s: string): s is Strategy {
  return Object.prototype.hasOwnProperty.call(OPEN_ENDED_STRATEGIES, s);
}
