/**
 * Per-row selection for greedy, top-k, top-p and plain sampling: the processors (./chain.ts) rewrite a copy
 * of each row's log-probabilities, then the argmax or a seeded draw picks the token. Rows end at an
 * end-of-sequence token or when `stopWhen` says so.
 */
import { buildProcessors } from './chain';
import type { Selection, Selector } from './loop';
import type { ResolvedOptions } from './options';
import { argmax, logSumExp } from './processors';
import { SeededRandom } from './random';
import type { GeneratedSequence } from './result';

/** Draws an index from log-scores (all -Infinity except the allowed ones). */
export function sample(scores: Float32Array, rng: SeededRandom): number {
  let m = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > m) m = scores[i];
  let total = 0;
  for (let i = 0; i < scores.length; i++) total += Math.exp(scores[i] - m);
  let u = rng.next() * total;
  let last = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] === -Infinity) continue;
    last = i;
    u -= Math.exp(scores[i] - m);
    if (u < 0) return i;
  }
  return last; // rounding left a sliver: the last allowed token
}

/** The selector of the greedy and sampling strategies: one row per prompt. */
export function rowSelector(prompts: number[][], o: ResolvedOptions, vocabSize: number): Selector {
  const processors = buildProcessors(o);
  const rng = new SeededRandom(o.seed);
  const tokens = prompts.map((p) => p.slice());
  const results: GeneratedSequence[] = prompts.map(() => ({ tokens: [], logProbs: [], finishReason: 'length' }));
  const done = new Array<boolean>(prompts.length).fill(false);
  const scores = new Float32Array(vocabSize);
  const V = vocabSize;
  const dolaScores = o.contrast !== false && o.contrast.mode === 'dola';
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
        const t = o.strategy === 'greedy' ? argmax(scores) : sample(scores, rng);
        if (scores[t] === -Infinity) throw new Error(`Every token was filtered out at step ${step} of row ${r}: check the processors`);
        next[r] = t;
        tokens[r].push(t);
        results[r].tokens.push(t);
        // Mode 'dola' hands unnormalised scores to the processors (./loop.ts): the reported value is normalised.
        results[r].logProbs.push(dolaScores ? row[t] - logSumExp(row) : row[t]);
        o.onToken?.(r, t);
        if (o.eos.includes(t)) {
          done[r] = true;
          results[r].finishReason = 'eos';
        } else if (o.stopWhen?.(r, results[r].tokens)) {
          done[r] = true;
          results[r].finishReason = 'stop';
        }
      }
      return { tokens: next, done: done.every(Boolean) };
    },
    finish: () => results.map((r) => [r]),
  };
}
