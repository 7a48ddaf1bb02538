/**
 * What a decoding strategy needs from a model: a step that turns tokens into the raw next-token outputs of
 * each row, the expert's logits and, when a contrast was asked for, the amateur's (its logits, or its hidden
 * state and head matrix so that only the plausible head's logits are computed). The contrast itself runs in
 * the decoding pipeline (./pipeline.ts), never in the session. The native runtime implements this for ONNX
 * models (src/generate/model.ts); tests use small deterministic fakes.
 */
import type { CompactHead, Dtype } from '../kernel';

/** The amateur as a hidden state and the head matrix that turns it into logits (`hidden · W[token] + b`). */
export interface AmateurHidden {
  /** `[rows x hiddenSize]`. */
  hidden: Float32Array;
  /** `[V x hiddenSize]` head matrix (float32, or float16/bfloat16 bits). */
  weight: Float32Array | Uint16Array;
  weightDtype: Dtype;
  /** Optional bias `[V]`, same element type as the weight. */
  bias?: Float32Array | Uint16Array;
}

/**
 * The candidate layers of a layer chosen per step (DoLa, amateurLayer 'auto'): each candidate's hidden state and
 * the head that projects them all (the pipeline computes every candidate's logits in one batched projection).
 */
export interface CandidateOutputs {
  /** Layer numbers, in the order of `hidden`. */
  layers: readonly number[];
  /** Per candidate, `[rows x hiddenSize]`. */
  hidden: Float32Array[];
  /** `[V x hiddenSize]` head (float32, float16/bfloat16 bits, or its lossless int8 block form). */
  weight: Float32Array | Uint16Array | CompactHead;
  weightDtype: Dtype;
  /** Optional bias `[V]`, same element type as the weight. */
  bias?: Float32Array | Uint16Array;
  hiddenSize: number;
  /**
   * The final layer's hidden states `[rows x hiddenSize]` when the session's graph does not compute the final
   * logits (DoLa's runtime without the head product): the contrast projects them with the candidates, in the same
   * pass over the head, and writes the final logits into the step's `expert`.
   */
  finalHidden?: Float32Array;
}

/** Next-token outputs for each row (last position only). */
export interface StepOutput {
  /** Expert logits `[rows x vocabSize]` (the final layer's, or the expert exit's). */
  expert: Float32Array;
  /** Amateur exit logits `[rows x vocabSize]` (the dense amateur). */
  amateur?: Float32Array;
  /** The amateur as hidden state and head (the sparse amateur), instead of `amateur`. */
  amateurHidden?: AmateurHidden;
  /** Candidate layers when the amateur / premature layer is chosen per step, instead of `amateur`. */
  candidates?: CandidateOutputs;
}

/**
 * The fused step's settings: the contrast and the chain's selection, run natively in one call
 * (./pipeline.ts `fusedSelection` decides when the chain allows it).
 */
export interface FusedSelection {
  /** `plain`: no contrast, the expert's own distribution (alpha and minCandidates are then unused). */
  mode: 'acd' | 'cd' | 'plain';
  alpha: number;
  minCandidates: number;
  beta?: number;
  /** Sampling (absent: argmax): temperature, top-k (0: off), top-p (1: off), seed (row r draws from stream r). */
  sample?: { temperature: number; topK: number; topP: number; seed: number };
}

/** Per row, the token the fused step selected and its log-probability under the contrasted distribution. */
export interface SelectedTokens {
  tokens: ArrayLike<number>;
  logProbs: ArrayLike<number>;
}

/** How far the fused loop may run: selections in all, the tokens that end a row, what a finished row is fed. */
export interface FusedLimits {
  maxSteps: number;
  eos: readonly number[];
  filler: number;
}

/** A session's fused native step (prefill or step, then contrast and selection in the same native call). */
export interface FusedStep {
  prefill(prompts: number[][], selection: FusedSelection): Promise<SelectedTokens>;
  step(tokens: number[], selection: FusedSelection): Promise<SelectedTokens>;
  /**
   * The same steps in one native call (prefill, then each selection fed back as the next tokens; a row that
   * selected an eos token is fed the filler). `onStep` gets every selection in order while the native side goes
   * on; returning true stops it before its next step (later selections may still arrive: ignore them).
   */
  loop?(prompts: number[][], selection: FusedSelection, limits: FusedLimits, onStep: (picked: SelectedTokens, step: number) => boolean): Promise<void>;
  /** Stops a running {@link loop} before its next step. */
  stop?(): void;
}

/** A running batch of sequences on a model. */
export interface DecoderSession {
  /** Vocabulary size of the logits. */
  readonly vocabSize: number;
  /** Feeds the prompts (one row each) and returns the outputs for the position after each. */
  prefill(prompts: number[][]): Promise<StepOutput>;
  /** Appends one token per row and returns the outputs after it. */
  step(tokens: number[]): Promise<StepOutput>;
  /** Reorders (and duplicates) rows: row i becomes former row parents[i]. Beam search uses it. */
  reorder(parents: number[]): void;
  /** Releases the session's buffers. */
  dispose(): void;
  /** Present when the session can run the fused native step (plain, or a dense amateur's logits; CPU). */
  readonly fused?: FusedStep;
}

/** Creates sessions; `amateurLayer` selects which exit's outputs come back as the amateur. */
export interface DecoderModel {
  readonly vocabSize: number;
  /** Token that ends a sequence, if the model has one. */
  readonly eosTokenId?: number;
  createSession(options: { rows: number; amateurLayer?: number; candidates?: readonly number[]; maxLength?: number }): Promise<DecoderSession>;
}
