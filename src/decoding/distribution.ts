/**
 * From a step's logits to one log-probability row per sequence: the contrast (ACD or CD through the kernel)
 * or a plain log-softmax of the expert.
 */
import { acdLogProbs, cdScores } from '../kernel';
import { logSoftmaxInPlace } from './processors';
import type { ContrastSettings } from './options';
import type { StepOutput } from './session';

/** Writes `[rows x V]` log-probabilities of the step into `out`. */
export function stepLogProbs(step: StepOutput, vocabSize: number, contrast: ContrastSettings | false, out: Float32Array): Float32Array {
  if (contrast === false) {
    out.set(step.expert);
    for (let r = 0; r < out.length / vocabSize; r++) logSoftmaxInPlace(out.subarray(r * vocabSize, (r + 1) * vocabSize));
    return out;
  }
  if (!step.amateur) throw new Error('The model session returned no amateur logits although contrast was asked for');
  const fn = contrast.mode === 'cd' ? cdScores : acdLogProbs;
  return fn(step.expert, step.amateur, {
    vocabSize,
    alpha: contrast.alpha,
    minCandidates: contrast.minCandidates,
    beta: contrast.beta,
    out,
  });
}
