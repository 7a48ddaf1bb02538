/**
 * The generation loop over a `DecoderModel`: greedy, top-k, top-p and plain sampling, with or without
 * contrast, and beam search (beam.ts). Token ids in, token ids and per-token log-probabilities out.
 */
import { beamSearch } from './beam';
import { stepLogProbs } from './distribution';
import { resolveOptions, type GenerateOptions } from './options';
import { buildProcessors } from './chain';
import { argmax } from './processors';
import { SeededRandom } from './random';
import type { DecoderModel, DecoderSession } from './session';

/** Why a sequence ended. */
export type FinishReason = 'eos' | 'length' | 'stop';

/** One generated sequence. */
export interface GeneratedSequence {
  /** Generated token ids (the prompt not included). */
  tokens: number[];
  /** Log-probability of each generated token under the (contrasted) distribution, before sampling warpers. */
  logProbs: number[];
  finishReason: FinishReason;
  /** Beam search: the length-penalised score `sum(logProbs) / tokens.length ** lengthPenalty`. */
  score?: number;
}

/** Per prompt, the returned sequences (one, or `numReturnSequences` for beam search). */
export interface GenerationResult {
  sequences: GeneratedSequence[][];
  timing: { prefillMs: number; decodeMs: number; steps: number };
}

function checkPrompts(prompts: number[][], vocab: number): void {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new TypeError('Expected at least one prompt (an array of token-id arrays)');
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new RangeError(`Prompt ${i} is empty: it needs at least one token`);
    for (const t of p) if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new RangeError(`Prompt ${i} has token ${t}, outside [0, ${vocab})`);
  });
}

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

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new Error('Generation aborted');
}

/** Generates continuations of `prompts` (token ids) with `model`. */
export async function generateTokens(model: DecoderModel, prompts: number[][], options: GenerateOptions = {}): Promise<GenerationResult> {
  const o = resolveOptions(options, model.eosTokenId);
  checkPrompts(prompts, model.vocabSize);
  if (o.strategy === 'beam') return beamSearch(model, prompts, o);
  const V = model.vocabSize;
  const rows = prompts.length;
  const amateurLayer = o.contrast === false ? undefined : o.contrast.amateurLayer;
  const session: DecoderSession = await model.createSession({ rows, amateurLayer, maxLength: Math.max(...prompts.map((p) => p.length)) + o.maxNewTokens });
  const processors = buildProcessors(o);
  const rng = new SeededRandom(o.seed);
  const tokens = prompts.map((p) => p.slice());
  const results: GeneratedSequence[] = prompts.map(() => ({ tokens: [], logProbs: [], finishReason: 'length' }));
  const done = new Array<boolean>(rows).fill(false);
  const lp = new Float32Array(rows * V);
  const scores = new Float32Array(V);
  const t0 = performance.now();
  let prefillMs = 0, steps = 0;
  try {
    checkAbort(o.signal);
    let out = await session.prefill(prompts);
    prefillMs = performance.now() - t0;
    for (let step = 0; step < o.maxNewTokens; step++) {
      checkAbort(o.signal);
      stepLogProbs(out, V, o.contrast, lp);
      const next = new Array<number>(rows).fill(o.eos[0] ?? 0);
      for (let r = 0; r < rows; r++) {
        if (done[r]) continue;
        const row = lp.subarray(r * V, (r + 1) * V);
        scores.set(row);
        const ctx = { row: r, tokens: tokens[r], generated: results[r].tokens.length };
        for (const p of processors) p.process(scores, ctx);
        let t: number;
        if (o.strategy === 'greedy') t = argmax(scores);
        else t = sample(scores, rng);
        if (scores[t] === -Infinity) throw new Error(`Every token was filtered out at step ${step} of row ${r}: check the processors`);
        next[r] = t;
        tokens[r].push(t);
        results[r].tokens.push(t);
        results[r].logProbs.push(row[t]);
        o.onToken?.(r, t);
        if (o.eos.includes(t)) { done[r] = true; results[r].finishReason = 'eos'; }
        else if (o.stopWhen?.(r, results[r].tokens)) { done[r] = true; results[r].finishReason = 'stop'; }
      }
      steps++;
      if (done.every(Boolean) || step === o.maxNewTokens - 1) break;
      out = await session.step(next);
    }
  } finally {
    session.dispose();
  }
  return { sequences: results.map((r) => [r]), timing: { prefillMs, decodeMs: performance.now() - t0 - prefillMs, steps } };
}


