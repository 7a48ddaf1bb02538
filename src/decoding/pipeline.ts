/**
 * The per-step pipeline, the one place where a step's raw outputs become token choices:
 *
 *   contrast (ACD / CD through the kernel, or plain) -> log-softmax -> processors (penalties, then warpers:
 *   temperature, top-k, top-p, the user's) -> selection (argmax, a draw, or beam search's candidates).
 *
 * {@link contrastStep} is the first two stages for all rows; {@link buildProcessors} (./chain.ts) the third;
 * the selectors (./select.ts, ./beam.ts) the last. Every strategy and every caller (generate, stream, score,
 * generateTokens) goes through it.
 *
 * The fused native step (the runtime's `stepAndContrast`: contrast, log-softmax, temperature, top-k, top-p and
 * the argmax or seeded draw of native/kernels/select.cc, with the same generator and draw rule as ./random.ts)
 * is this chain computed in one native call on the worker thread (and the fused loop, many such steps in one
 * call). {@link fusedSelection} chooses it when the chain has nothing it lacks; test/generate/fused-path.test.mjs
 * and fused-loop.test.mjs hold them equal token for token.
 */
import type { ContrastConfig } from '../config/generation';
import { acdLogProbs, acdLogProbsAsync, acdLogProbsSparseAsync, cdScores, cdScoresAsync, cdScoresSparseAsync, dolaContrastAsync } from '../kernel';
import { logSoftmaxInPlace } from './processors';
import { envValue } from '../config/env';
import type { ResolvedOptions } from './options';
import type { FusedSelection, StepOutput } from './session';

/** Rows from which the dense contrast runs on the thread pool instead of the calling thread. */
const ASYNC_ROWS = 4;

function logSoftmaxRows(out: Float32Array, vocabSize: number): void {
  for (let r = 0; r < out.length / vocabSize; r++) logSoftmaxInPlace(out.subarray(r * vocabSize, (r + 1) * vocabSize));
}

/** Extra outputs and forms of {@link contrastStep}. */
export interface ContrastStepOptions {
  /** A layer chosen per step: receives the chosen layer of each row. */
  layers?: Int32Array;
  /** Mode 'dola': leave DoLa's scores unnormalised (what transformers hands its processors). */
  raw?: boolean;
}

/**
 * Writes `[rows x V]` log-probabilities of the step into `out`: the contrasted distribution (renormalised,
 * so CD's masked scores become log-probabilities over the head) or, with `contrast` false, the expert's. With
 * candidate layers (mode 'dola', amateurLayer 'auto'), each row's layer is chosen by divergence first (kernel
 * dolaContrast: one batched projection of every candidate).
 */
export async function contrastStep(step: StepOutput, vocabSize: number, contrast: ContrastConfig | false, out: Float32Array, options: ContrastStepOptions = {}): Promise<Float32Array> {
  if (contrast === false) {
    out.set(step.expert);
  } else if (step.candidates) {
    const c = step.candidates;
    const r = await dolaContrastAsync(
      step.expert,
      { hidden: c.hidden, headWeight: c.weight, weightDtype: c.weightDtype, hiddenSize: c.hiddenSize, ...(c.bias ? { headBias: c.bias } : {}), ...(c.finalHidden ? { finalHidden: c.finalHidden } : {}) },
      { vocabSize, output: contrast.mode, alpha: contrast.alpha, minCandidates: contrast.minCandidates, ...(contrast.beta !== undefined ? { beta: contrast.beta } : {}), ...(contrast.dolaHead ? { head: contrast.dolaHead } : {}), out },
    );
    if (options.layers) r.chosen.forEach((k, row) => (options.layers![row] = c.layers[k]));
    if (contrast.mode === 'dola' && options.raw) return out;
  } else if (contrast.mode === 'dola') {
    throw new Error("mode 'dola' needs the candidate layers' outputs, and the model session returned none");
  } else {
    const common = { vocabSize, alpha: contrast.alpha, minCandidates: contrast.minCandidates, beta: contrast.beta, out };
    const cd = contrast.mode === 'cd';
    if (step.amateurHidden) {
      // The sparse amateur costs |head| x d per row: tiny for a peaked distribution, a full head product for a
      // flat one. It runs on the thread pool so that a large head never stalls the event loop.
      const a = step.amateurHidden;
      await (cd ? cdScoresSparseAsync : acdLogProbsSparseAsync)(step.expert, a.hidden, a.weight, { ...common, weightDtype: a.weightDtype, headBias: a.bias });
    } else if (step.amateur) {
      if (step.expert.length / vocabSize >= ASYNC_ROWS) await (cd ? cdScoresAsync : acdLogProbsAsync)(step.expert, step.amateur, common);
      else (cd ? cdScores : acdLogProbs)(step.expert, step.amateur, common);
    } else {
      throw new Error('The model session returned no amateur outputs although contrast was asked for');
    }
  }
  logSoftmaxRows(out, vocabSize);
  return out;
}

/**
 * The fused step's settings when the chain of `o` can run natively in one call, else null: plain decoding, or
 * ACD or CD with one amateur layer; greedy or sampling (temperature, top-k, top-p); and no processor the native
 * chain lacks (repetition penalty, minimum length, the user's). `AUTOCONTRAST_FUSED=0` turns the fused step off
 * (for comparisons). Beam search and DoLa always run the chain here.
 */
export function fusedSelection(o: ResolvedOptions): FusedSelection | null {
  if (envValue('AUTOCONTRAST_FUSED') === '0') return null;
  const c = o.contrast;
  if (c !== false && (c.candidates || (c.mode !== 'acd' && c.mode !== 'cd'))) return null;
  if (o.strategy === 'beam' || o.processors.length || o.repetitionPenalty !== 1 || (o.minNewTokens > 0 && o.eos.length)) return null;
  const kernel: FusedSelection =
    c === false
      ? { mode: 'plain', alpha: 0, minCandidates: 1 }
      : { mode: c.mode as 'acd' | 'cd', alpha: c.alpha, minCandidates: c.minCandidates, ...(c.beta !== undefined ? { beta: c.beta } : {}) };
  if (o.strategy === 'greedy') return kernel;
  return {
    ...kernel,
    sample: { temperature: o.temperature, topK: o.strategy === 'top-k' ? o.topK : 0, topP: o.strategy === 'top-p' ? o.topP : 1, seed: o.seed },
  };
}
