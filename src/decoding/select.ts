/**
 * Per-row selection for greedy, top-k, top-p and plain sampling: the processors (./chain.ts) rewrite a copy
 * of each row's log-probabilities, then the argmax or a seeded draw picks the token. Rows end at an
 * end-of-sequence token or when `stopWhen` says so.
 */
import { buildProcessors } from './chain';
import type { Selection, Selector } from './loop';
import type { ResolvedOptions } from './options';
import { argmax, logSumExp } from './processors';
import { drawIndex, SeededRandom } from './random';
import type { GeneratedSequence } from './result';

/** Draws an index from log-scores (all -Infinity except the allowed ones) with the next value of `rng`. */
export function sample(scores: Float32Array, rng: SeededRandom): number {
  return drawIndex(scores, rng.next());
}

/**
 * The selector of the greedy and sampling strategies: one row per prompt, each row drawing from its own
 * stream of the seed (so a row's tokens do not depend on the other rows of the batch). `accept` takes tokens
 * that the fused native step already selected with the same chain (./pipeline.ts `fusedSelection`).
 */
export function rowSelector(prompts: number[][], o: ResolvedOptions, vocabSize: number): Selector & { accept(tokens: ArrayLike<number>, logProbs: ArrayLike<number>, step: number): Selection } {
  const processors = buildProcessors(o);
  const rngs = prompts.map((_, r) => new SeededRandom(o.seed, r));
  const tokens = prompts.map((p) => p.slice());
  const results: GeneratedSequence[] = prompts.map(() => ({ tokens: [], logProbs: [], finishReason: 'length' }));
  const done = new Array<boolean>(prompts.length).fill(false);
  const scores = new Float32Array(vocabSize);
  const V = vocabSize;
  const dolaScores = o.contrast !== false && o.contrast.mode === 'dola';
  /** Records row r's token; returns whether the row ended. */
  const record = (r: number, t: number, logProb: number): void => {
    tokens[r].push(t);
    results[r].tokens.push(t);
    results[r].logProbs.push(logProb);
    o.onToken?.(r, t);
    if (o.eos.includes(t)) {
      done[r] = true;
      results[r].finishReason = 'eos';
    } else if (o.stopWhen?.(r, results[r].tokens)) {
      done[r] = true;
      results[r].finishReason = 'stop';
    }
  };
  return {
    rows: prompts,
    select(lp: Float32Array, step: number): Selection {
      const next = new Array<number>(prompts.length).fill(o.eos[0] ?? 0);
      for (let r = 0; r < prompts.length; r++) {
        if (done[r]) continue;
        const row = lp.subarray(r * V, (r + 1) * V);
        scores.set(row);
        const ctx = { row: r, tokens: tokens[r], generated: results[r].tokens.length };
        for (const p of processors) p.process(scores, ctx);
        const t = o.strategy === 'greedy' ? argmax(scores) : sample(scores, rngs[r]);
        if (t < 0 || scores[t] === -Infinity) throw new Error(`Every token was filtered out at step ${step} of row ${r}: check the processors`);
        next[r] = t;
        // Mode 'dola' hands unnormalised scores to the processors (./loop.ts): the reported value is normalised.
        record(r, t, dolaScores ? row[t] - logSumExp(row) : row[t]);
      }
      return { tokens: next, done: done.every(Boolean) };
    },
    accept(selected: ArrayLike<number>, logProbs: ArrayLike<number>): Selection {
      const next = new Array<number>(prompts.length).fill(o.eos[0] ?? 0);
      for (let r = 0; r < prompts.length; r++) {
        if (done[r]) continue;
        next[r] = selected[r];
        record(r, selected[r], logProbs[r]);
      }
      return { tokens: next, done: done.every(Boolean) };
    },
    finish: () => results.map((r) => [r]),
  };
}
