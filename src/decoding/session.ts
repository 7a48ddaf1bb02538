/**
 * What a decoding strategy needs from a model: a step that turns tokens into next-token logits for each row,
 * with an amateur exit beside the expert. The native runtime implements it for ONNX models; tests use small
 * deterministic fakes.
 */

/** Next-token logits for each row (last position only). */
export interface StepOutput {
  /** Expert (final layer) logits `[rows x vocabSize]`. */
  expert: Float32Array;
  /** Amateur exit logits `[rows x vocabSize]`, when the session was asked for an amateur layer. */
  amateur?: Float32Array;
}

/** A running batch of sequences on a model. */
export interface DecoderSession {
  /** Vocabulary size of the logits. */
  readonly vocabSize: number;
  /** Feeds the prompts (one row each) and returns logits for the position after each. */
  prefill(prompts: number[][]): Promise<StepOutput>;
  /** Appends one token per row and returns the logits after it. */
  step(tokens: number[]): Promise<StepOutput>;
  /** Reorders (and duplicates) rows: row i becomes former row parents[i]. Beam search uses it. */
  reorder(parents: number[]): void;
  /** Releases the session's buffers. */
  dispose(): void;
}

/** Creates sessions; `amateurLayer` selects which exit's logits come back as `amateur`. */
export interface DecoderModel {
  readonly vocabSize: number;
  /** Token that ends a sequence, if the model has one. */
  readonly eosTokenId?: number;
  createSession(options: { rows: number; amateurLayer?: number; maxLength?: number }): Promise<DecoderSession>;
}
