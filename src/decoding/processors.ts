/**
 * Logit processors: small composable stages applied to one row of scores in place, in order. Contrast runs
 * before them (it turns expert and amateur logits into a distribution), selection after them, as the
 * reference does through Hugging Face `generate`. Users add their own by implementing `LogitsProcessor`.
 */
import { checkOption } from '../config/generation';

/** What a processor may look at for the row it processes. */
export interface ProcessorContext {
  /** Row index in the batch. */
  row: number;
  /** The row's tokens so far: prompt then generated tokens. */
  tokens: readonly number[];
  /** How many tokens were generated so far. */
  generated: number;
}

/** One stage of the chain: rewrites `scores` (one row, V values) in place. */
export interface LogitsProcessor {
  readonly name: string;
  process(scores: Float32Array, ctx: ProcessorContext): void;
}


/** Penalises tokens already in the sequence (CTRL, Keskar et al. 2019): positive scores divided, negative multiplied. */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  checkOption('repetitionPenalty', penalty, 'api');
  return {
    name: 'repetitionPenalty',
    process(scores, ctx) {
      const seen = new Set(ctx.tokens);
      for (const t of seen) {
        if (t < 0 || t >= scores.length) continue;
        const s = scores[t];
        scores[t] = s > 0 ? s / penalty : s * penalty;
      }
    },
  };
}

/** Divides scores by the temperature. */
export function temperature(t: number): LogitsProcessor {
  checkOption('temperature', t, 'api');
  return {
    name: 'temperature',
    process(scores) {
      if (t === 1) return;
      for (let i = 0; i < scores.length; i++) scores[i] /= t;
    },
  };
}

/** Keeps the k highest scores (and any tied with the k-th); the rest become -Infinity. */
export function topK(k: number): LogitsProcessor {
  checkOption('topK', k, 'api');
  return {
    name: 'topK',
    process(scores) {
      if (k >= scores.length) return;
      const kth = kthLargest(scores, k);
      for (let i = 0; i < scores.length; i++) if (scores[i] < kth) scores[i] = -Infinity;
    },
  };
}

/**
 * Nucleus filtering (Holtzman et al. 2020): keeps the smallest set of highest-probability tokens whose mass
 * reaches p (the token that crosses p is kept; at least `minTokensToKeep`); the rest become -Infinity.
 */
export function topP(p: number, minTokensToKeep = 1): LogitsProcessor {
  checkOption('topP', p, 'api');
  return {
    name: 'topP',
    process(scores) {
      if (p >= 1) return;
      const order = Array.from(scores.keys()).filter((i) => scores[i] > -Infinity).sort((a, b) => scores[b] - scores[a]);
      if (!order.length) return;
      const m = scores[order[0]];
      let total = 0;
      for (const i of order) total += Math.exp(scores[i] - m);
      let cum = 0, keep = 0;
      for (const i of order) {
        keep++;
        cum += Math.exp(scores[i] - m) / total;
        if (cum >= p && keep >= minTokensToKeep) break;
      }
      const kept = new Set(order.slice(0, keep));
      for (let i = 0; i < scores.length; i++) if (!kept.has(i)) scores[i] = -Infinity;
    },
  };
}

/** Forbids the end-of-sequence tokens until `min` tokens were generated. */
export function minNewTokens(min: number, eosTokenIds: readonly number[]): LogitsProcessor {
  return {
    name: 'minNewTokens',
    process(scores, ctx) {
      if (ctx.generated >= min) return;
      for (const e of eosTokenIds) if (e >= 0 && e < scores.length) scores[e] = -Infinity;
    },
  };
}

/** The k-th largest value of a row (k >= 1), by partial selection. */
export function kthLargest(values: Float32Array, k: number): number {
  const copy = Float32Array.from(values);
  copy.sort();
  return copy[copy.length - k];
}

/** log(sum(exp(scores))) (-Infinity when every score is -Infinity). */
export function logSumExp(scores: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > m) m = scores[i];
  if (m === -Infinity) return m;
  let s = 0;
  for (let i = 0; i < scores.length; i++) s += Math.exp(scores[i] - m);
  return m + Math.log(s);
}

/** In-place log-softmax of a row; rows that are all -Infinity are left as they are. */
export function logSoftmaxInPlace(scores: Float32Array): void {
  let m = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > m) m = scores[i];
  if (m === -Infinity) return;
  let s = 0;
  for (let i = 0; i < scores.length; i++) s += Math.exp(scores[i] - m);
  const lse = m + Math.log(s);
  for (let i = 0; i < scores.length; i++) scores[i] -= lse;
}

/** Index of the largest value (the first one on ties). */
export function argmax(scores: Float32Array): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}
