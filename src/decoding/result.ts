/** What the token-level generation returns (shared by the sampling loop and beam search). */

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
  /** A layer chosen per step (mode 'dola', amateurLayer 'auto'; not beam search): the layer of each token. */
  amateurLayers?: number[];
}

/** Per prompt, the returned sequences (one, or `numReturnSequences` for beam search). */
export interface GenerationResult {
  sequences: GeneratedSequence[][];
  /** `fused`: the fused native step ran instead of the step-by-step chain (same tokens; ./pipeline.ts). */
  timing: { prefillMs: number; decodeMs: number; steps: number; fused: boolean };
}
