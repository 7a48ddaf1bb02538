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
import { diversityMetrics, words, type DiversityMetrics } from './metrics';
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
  /**
   * `prompt index * 1000 + configuration id`, the id `2 * (index of the strategy in
   * {@link OPEN_ENDED_STRATEGIES}) + (1 if contrasted)`: unique per prompt and configuration whatever the run's
   * list of strategies, so that runs over other strategy lists share the plain continuations.
   */
  i: number;
  text: string;
  tokens: number;
  ms: number;
  /** A layer chosen per step: how many generated tokens chose each layer. */
  h?: Record<number, number>;
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
  /**
   * A layer chosen per step (mode `dola`, amateur layer `auto`; not beam search, which reports none): the
   * generated tokens that chose each candidate layer, over all continuations.
   */
  layers?: Record<number, number>;
  /**
   * Contrasted configurations: diversity of the plain and the contrasted continuations of the same prompts at
   * equal length (each pair cut to the shorter one's word count), so that a contrasted run that stops earlier
   * is not credited with fewer repeats for its shortness alone.
   */
  equalLength?: EqualLengthDiversity;
}

/** Diversity of paired plain and contrasted continuations, each pair cut to the shorter one's word count. */
export interface EqualLengthDiversity {
  /** Prompts with both continuations. */
  prompts: number;
  plain: number;
  contrast: number;
  /** Mean words per continuation after the cut. */
  meanWords: number;
}

/** {@link EqualLengthDiversity} of paired continuations (`pairs[k]` = [plain, contrasted] text of one prompt). */
export function equalLengthDiversity(pairs: readonly (readonly [string, string])[]): EqualLengthDiversity {
  const cut: [string[], string[]] = [[], []];
  let total = 0;
  for (const [p, c] of pairs) {
    const wp = words(p);
    const wc = words(c);
    const n = Math.min(wp.length, wc.length);
    cut[0].push(wp.slice(0, n).join(' '));
    cut[1].push(wc.slice(0, n).join(' '));
    total += n;
  }
  return { prompts: pairs.length, plain: diversityMetrics(cut[0]).diversity, contrast: diversityMetrics(cut[1]).diversity, meanWords: pairs.length ? total / pairs.length : 0 };
}

/** The contrasted configuration of a run: a fixed amateur, or a layer chosen per step among candidates. */
export type OpenEndedContrast =
  | { mode: 'acd' | 'cd'; alpha: number; amateurLayer: number; repetitionPenalty?: number }
  | { mode: 'acd' | 'cd' | 'dola'; alpha: number; candidates: readonly number[]; repetitionPenalty?: number };

/** Options of {@link runOpenEnded}. */
export interface OpenEndedOptions {
  strategies: readonly string[];
  contrast: OpenEndedContrast;
  /** Repetition penalty of the plain configurations (default 1). */
  plainRepetitionPenalty?: number;
  maxNewTokens: number;
  seed: number;
  batch: number;
  /** Cache of the contrasted continuations. */
  cacheFile?: string;
  settings?: object;
  /** Cache of the plain continuations (shared by runs that differ only in their contrast). */
  plainCacheFile?: string;
  plainSettings?: object;
  progress?: boolean;
  signal?: AbortSignal;
  /** Sentence encoder for coherence (null: coherence not measured). */
  embedder?: SentenceEmbedder | null;
}

/** The generate() options of one configuration. */
export function openEndedGenerateOptions(strategy: string, contrast: OpenEndedContrast | null, o: Pick<OpenEndedOptions, 'maxNewTokens' | 'seed' | 'plainRepetitionPenalty'>): GenerateTextOptions {
  const rp = contrast ? contrast.repetitionPenalty : o.plainRepetitionPenalty;
  let c: GenerateTextOptions = { contrast: false };
  if (contrast) {
    c = 'candidates' in contrast
      ? { contrast: true, mode: contrast.mode, alpha: contrast.alpha, dolaLayers: [...contrast.candidates], ...(contrast.mode === 'dola' ? {} : { amateurLayer: 'auto' as const }) }
      : { contrast: true, mode: contrast.mode, alpha: contrast.alpha, amateurLayer: contrast.amateurLayer };
  }
  return {
    ...OPEN_ENDED_STRATEGIES[strategy],
    maxNewTokens: o.maxNewTokens,
    ...(strategy === 'top-k' || strategy === 'top-p' ? { seed: o.seed } : {}),
    ...c,
    ...(rp !== undefined ? { repetitionPenalty: rp } : {}),
  };
}

/** The configuration id of a strategy, plain or contrasted (see {@link OpenEndedRecord.i}). */
export function configId(strategy: string, contrast: boolean): number {
  return 2 * Object.keys(OPEN_ENDED_STRATEGIES).indexOf(strategy) + (contrast ? 1 : 0);
}

/** Generates for every prompt, strategy and plain/contrasted, and measures each configuration. */
export async function runOpenEnded(model: ContrastModel, prompts: readonly OpenEndedPrompt[], o: OpenEndedOptions): Promise<OpenEndedConfigResult[]> {
  const configs = o.strategies.flatMap((s) => [false, true].map((contrast) => ({ s, contrast, id: configId(s, contrast) })));
  const open = (file: string | undefined, settings: object | undefined) => (file ? new ResultCache<OpenEndedRecord>(file, settings ?? {}) : null);
  const caches = { plain: open(o.plainCacheFile ?? o.cacheFile, o.plainCacheFile ? o.plainSettings : o.settings), contrast: null as ResultCache<OpenEndedRecord> | null };
  try {
    caches.contrast = o.plainCacheFile ? open(o.cacheFile, o.settings) : caches.plain;
  } catch (e) {
    caches.plain?.close();
    throw e;
  }
  const cacheOf = (contrast: boolean) => (contrast ? caches.contrast : caches.plain);
  // Records of prompts beyond this run's limit, or of configurations it does not run, stay in the cache but do not count here.
  const ids = new Set(configs.map((c) => c.id));
  const done = new Map<number, OpenEndedRecord>();
  for (const c of new Set([caches.plain, caches.contrast])) {
    for (const [i, r] of c?.done ?? []) if (Math.floor(i / 1000) < prompts.length && ids.has(i % 1000)) done.set(i, r);
  }
  const total = configs.length * prompts.length;
  const progress = new EvalProgress('open-ended', total, done.size, process.stderr, o.progress !== false);
  const results: OpenEndedConfigResult[] = [];
  try {
    for (const { s, contrast, id } of configs) {
      const gen = openEndedGenerateOptions(s, contrast ? o.contrast : null, o);
      // Beam search runs one prompt at a time; the other strategies run batches of prompts.
      const B = s === 'beam' ? 1 : o.batch;
      const todo = prompts.map((_, p) => p).filter((p) => !done.has(p * 1000 + id));
      for (let k = 0; k < todo.length; k += B) {
        if (o.signal?.aborted) break;
        const idx = todo.slice(k, k + B);
        const t0 = performance.now();
        const rs = await generate(model, idx.map((p) => prompts[p].prompt), gen);
        const ms = performance.now() - t0;
        const recs = rs.map((r, j): OpenEndedRecord => {
          const rec: OpenEndedRecord = { i: idx[j] * 1000 + id, text: r.text, tokens: r.tokens.length, ms: ms / rs.length };
          if (r.amateurLayers) {
            rec.h = {};
            for (const L of r.amateurLayers) rec.h[L] = (rec.h[L] ?? 0) + 1;
          }
          return rec;
        });
        cacheOf(contrast)?.add(recs);
        for (const r of recs) done.set(r.i, r);
        progress.update(done.size);
      }
      const recs = prompts.map((_, p) => done.get(p * 1000 + id)).filter((r): r is OpenEndedRecord => !!r);
      const tokens = recs.reduce((a, r) => a + r.tokens, 0);
      const ms = recs.reduce((a, r) => a + r.ms, 0);
      const layers = recs.some((r) => r.h) ? histogram(recs.map((r) => r.h ?? {})) : undefined;
      results.push({
        strategy: s,
        contrast,
        n: recs.length,
        ...diversityMetrics(recs.map((r) => r.text)),
        meanTokens: recs.length ? tokens / recs.length : 0,
        tokensPerSecond: ms > 0 ? tokens / (ms / 1000) : 0,
        sample: recs[0]?.text ?? '',
        coherence: o.embedder && recs.length
          ? await coherence(o.embedder, recs.map((r) => prompts[Math.floor(r.i / 1000)].prompt), recs.map((r) => r.text))
          : null,
        ...(layers ? { layers } : {}),
      });
    }
    for (const r of results) {
      if (!r.contrast || !o.strategies.includes(r.strategy)) continue;
      const pairs: [string, string][] = [];
      for (let p = 0; p < prompts.length; p++) {
        const a = done.get(p * 1000 + configId(r.strategy, false));
        const b = done.get(p * 1000 + configId(r.strategy, true));
        if (a && b) pairs.push([a.text, b.text]);
      }
      if (pairs.length) r.equalLength = equalLengthDiversity(pairs);
    }
  } finally {
    progress.done();
    caches.plain?.close();
    if (caches.contrast !== caches.plain) caches.contrast?.close();
  }
  return results;
}

/** Sums per-item layer counts into one histogram (layer -> count). */
export function histogram(parts: readonly Record<number, number>[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const h of parts) for (const [L, n] of Object.entries(h)) out[Number(L)] = (out[Number(L)] ?? 0) + n;
  return out;
}

/** The strategy names {@link runOpenEnded} knows. */
export function isOpenEndedStrategy(s: string): s is Strategy {
  return Object.prototype.hasOwnProperty.call(OPEN_ENDED_STRATEGIES, s);
}
