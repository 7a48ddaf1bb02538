/**
 * Per row of a batched step: the distribution a request decodes from (contrasted with its own settings, or the
 * plain expert), its token choice and its top alternatives. The same kernels and processors as generate(), so a
 * row decodes as it would alone.
 */
import { buildProcessors } from '../decoding/chain';
import { sample } from '../decoding/select';
import { resolveOptions } from '../decoding/options';
import { contrastStep } from '../decoding/pipeline';
import { argmax, type LogitsProcessor } from '../decoding/processors';
import { SeededRandom } from '../decoding/random';
import type { ContrastModel, ContrastPlan } from '../generate/model';
import type { Sampling } from './engine';

/** The expert logits and the exit outputs of one row (views), by exit layer. */
export interface RowOutputs {
  expert: Float32Array;
  exits: ReadonlyMap<number, { logits?: Float32Array; hidden?: Float32Array }>;
}

/**
 * Writes the row's log-probabilities into `out`: the decoding pipeline's first stage (src/decoding/pipeline.ts,
 * the same as generate's) with the contrast of `plan` (ACD or CD, sparse or dense amateur), or the log-softmax
 * of the expert.
 */
export async function rowLogProbs(model: ContrastModel, plan: ContrastPlan | null, o: RowOutputs, out: Float32Array): Promise<Float32Array> {
  if (!plan) return contrastStep({ expert: o.expert }, model.vocabSize, false, out);
  const { layer: _layer, path: _path, candidates, ...settings } = plan;
  if (candidates) {
    // A layer chosen per step (mode 'dola', amateur_layer 'auto'): every candidate's hidden state, one head.
    const h = model.candidateHead(candidates[0]);
    const hidden = candidates.map((L) => {
      const x = o.exits.get(L)?.hidden;
      if (!x) throw new Error(`candidate layer ${L} has no hidden output in this lane`);
      return x;
    });
    const step = {
      expert: o.expert,
      candidates: { layers: candidates, hidden, weight: h.weight, weightDtype: h.head.dtype, ...(h.head.bias ? { bias: h.head.bias } : {}), hiddenSize: model.manifest.hiddenSize },
    };
    // DoLa's scores reach the processors unnormalised, as in generate (see src/decoding/loop.ts).
    return contrastStep(step, model.vocabSize, settings, out, { raw: plan.mode === 'dola' });
  }
  const exit = o.exits.get(plan.layer);
  if (plan.path === 'sparse') {
    const h = model.headWeights(plan.layer);
    if (!h || !exit?.hidden) throw new Error(`exit ${plan.layer} has no hidden output or head for the sparse amateur`);
    const amateurHidden = { hidden: exit.hidden, weight: h.weight, weightDtype: h.dtype, ...(h.bias ? { bias: h.bias } : {}) };
    return contrastStep({ expert: o.expert, amateurHidden }, model.vocabSize, settings, out);
  }
  if (!exit?.logits) throw new Error(`exit ${plan.layer} has no logits output for the dense amateur`);
  return contrastStep({ expert: o.expert, amateur: exit.logits }, model.vocabSize, settings, out);
}

/** The `n` most likely tokens of a log-probability row, most likely first (the scoring path's selection). */
export { topTokens } from '../generate/score-batch';

/** Token selection of one sequence: the processors and generator of its sampling settings. */
export class RowSelector {
  #processors: LogitsProcessor[];
  #rng: SeededRandom;
  #greedy: boolean;
  #scores: Float32Array;

  /** @throws TypeError / RangeError for inconsistent settings (as resolveOptions). */
  constructor(s: Sampling, vocabSize: number, eos: readonly number[] = []) {
    const sampling = s.strategy !== 'greedy';
    const resolved = resolveOptions({
      strategy: s.strategy,
      repetitionPenalty: s.repetitionPenalty,
      ...(s.minTokens ? { minNewTokens: s.minTokens, maxNewTokens: Math.max(s.minTokens, 1), eosTokenId: [...eos] } : {}),
      ...(sampling ? { temperature: s.temperature, seed: s.seed } : {}),
      ...(s.strategy === 'top-k' ? { topK: s.topK } : {}),
      ...(s.strategy === 'top-p' ? { topP: s.topP } : {}),
    });
    this.#processors = buildProcessors(resolved);
    this.#rng = new SeededRandom(resolved.seed);
    this.#greedy = !sampling;
    this.#scores = new Float32Array(vocabSize);
  }

  /** Picks the next token from the row's log-probabilities (`tokens`: prompt and generated so far). */
  select(logProbs: Float32Array, tokens: readonly number[], generated: number): number {
    if (this.#greedy && this.#processors.length === 0) return argmax(logProbs); // nothing to rewrite: no copy
    const scores = this.#scores;
    scores.set(logProbs);
    const ctx = { row: 0, tokens, generated };
    for (const p of this.#processors) p.process(scores, ctx);
    const t = this.#greedy ? argmax(scores) : sample(scores, this.#rng);
    if (scores[t] === -Infinity) throw new Error('every token was filtered out: check top_k / top_p');
    return t;
  }
}
