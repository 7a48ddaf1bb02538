/**
 * The narrow interface between the HTTP layer and decoding: what a served model must offer. The HTTP layer
 * (validation, SSE, metrics) only talks to an {@link Engine}; {@link BatchEngine} implements it with continuous
 * batching on the native runtime.
 */
import type { ContrastPlan } from '../generate/model';

/** How one sequence picks its tokens. `greedy` ignores temperature, topK, topP and seed. */
export interface Sampling {
  strategy: 'greedy' | 'sample' | 'top-k' | 'top-p';
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  repetitionPenalty: number;
  /** End-of-sequence tokens are forbidden before this many tokens (default 0). */
  minTokens?: number;
}

/** One sequence to decode (a prompt's choice). */
export interface DecodeRequest {
  /** Prompt token ids (non-empty, checked against the vocabulary and context). */
  prompt: number[];
  /** Tokens to generate at most (>= 1). */
  maxTokens: number;
  sampling: Sampling;
  /** The contrast applied to every step's distribution (null: plain). */
  contrast: ContrastPlan | null;
  /** How many top alternatives to report per token (0: none). */
  topLogprobs: number;
  /** Tokens that end the sequence. */
  eos: readonly number[];
  /** When the HTTP request arrived (performance.now()), for time-to-first-token. */
  arrivedAt: number;
}

/** A token and its log-probability under the distribution decoded from. */
export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** One generated token with its log-probability and, when asked, the top alternatives. */
export interface TokenEvent extends TokenLogprob {
  top?: TokenLogprob[];
}

/** Why a sequence ended. */
export type EndReason = 'eos' | 'length' | 'stop' | 'cancelled' | 'error';

/** Receives a sequence's tokens, then exactly one end. */
export interface DecodeSink {
  /** A new token; return true to end the sequence here (a stop string matched). */
  onToken(event: TokenEvent): boolean | void;
  /** The end; `error` is set for reason `error`. */
  onEnd(reason: EndReason, error?: Error): void;
}

/** A submitted sequence. */
export interface DecodeTicket {
  /** Ends the sequence at the next step boundary (a waiting one leaves the queue now); onEnd('cancelled'). */
  cancel(): void;
}

/** Per prompt position: the log-probability of the token there given those before it (null for the first). */
export interface PromptLogprob {
  token: number;
  logprob: number | null;
  top: TokenLogprob[] | null;
}

/** What the HTTP layer needs from a served model. */
export interface Engine {
  /** Queues a sequence. Throws ApiError 429 when the queue is full, 503 when the engine is closing. */
  submit(request: DecodeRequest, sink: DecodeSink): DecodeTicket;
  /** Log-probabilities of each prompt's tokens (echo), under the same contrast as generation. */
  scorePrompts(prompts: number[][], contrast: ContrastPlan | null, topLogprobs: number, signal?: AbortSignal): Promise<PromptLogprob[][]>;
  /** Sequences waiting for a slot. */
  readonly queued: number;
  /** Sequences decoding. */
  readonly running: number;
  /**
   * Stops accepting; lets running and queued sequences finish until `deadlineMs` from now, then cancels what is
   * left, and releases the engine's buffers.
   */
  close(deadlineMs: number): Promise<void>;
}
