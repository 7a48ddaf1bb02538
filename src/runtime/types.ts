/** The runtime's public types: graph descriptions, load and sequence options, step outputs. */
/** Describes a decoder graph by hand (for graphs without an `autocontrast.json` manifest). */
import type { AllowSpinning } from '../config/session';

export interface GraphDescription {
  /** Path of the `.onnx` file. */
  graphPath: string;
  /**
   * A derived form of that graph as ModelProto bytes, loaded instead of the file (its external data is read
   * from the file's folder): DoLa's graph without its head product (src/model/graph/onnx/without-head.ts).
   */
  graphBytes?: Uint8Array;
  /**
   * The model's output head computed by the runtime instead of the graph (with `graphBytes` the graph without its
   * head product, src/model/graph/onnx/without-head.ts): the graph output holding the hidden state the head
   * multiplies, and the head in int8 blocks (`codes` `[vocabSize x hiddenSize]`, one scale per 32 of them), whose
   * values must be exactly the graph's head (src/generate/q8-head.ts checks that). The runtime writes the logits
   * with its int8-block kernel after each Run. CPU only. A loaded model's description keeps the name only (empty
   * arrays: the runtime holds its own copy).
   */
  outputHead?: { hiddenOutput: string; codes: Int8Array; scales: Float32Array };
  /** Number of transformer blocks (= past/present pairs). */
  numLayers: number;
  /** Key/value heads. */
  numKvHeads: number;
  /** Head width. */
  headDim: number;
  /** Vocabulary size (logits width). */
  vocabSize: number;
  /** Hidden width d (exit hidden outputs). */
  hiddenSize: number;
  /** Context length (positions). */
  contextLength: number;
  /** Which positions `logits` covers: `all` (Hugging Face exports), `last`, or `input` (`num_logits_to_keep`). */
  logitPositions?: 'all' | 'last' | 'input';
  /** Input/output names; defaults follow Hugging Face exports (`{i}` is the block index). */
  names?: Partial<{
    inputIds: string;
    attentionMask: string;
    positionIds: string;
    numLogitsToKeep: string;
    logits: string;
    pastKey: string;
    pastValue: string;
    presentKey: string;
    presentValue: string;
  }>;
  /** Exit outputs by layer. */
  exits?: { layer: number; hiddenOutput?: string; logitsOutput?: string }[];
  /**
   * Set when the graph stores keys rotated by their cache column (the fused Llama graph): the runtime rotates a
   * row's keys on when it moves them to other columns (rows joining a batch, shared padding dropped).
   * `invFreq`: headDim / 2 inverse frequencies; `interleaved`: pairs (2i, 2i + 1), else (i, i + headDim / 2).
   */
  keyRotation?: { invFreq: readonly number[]; interleaved: boolean };
}

/** Session options. */
export interface LoadOptions {
  /** Intra-op threads (default: physical cores). */
  intraOpThreads?: number;
  /** Inter-op threads (default 1). */
  interOpThreads?: number;
  /**
   * Whether ORT's pool threads spin while waiting for work: `false` (default), `true`, `'within-run'` or `'auto'`
   * (each decode step in a sleeping or a spinning session, whichever the measured step times favour); defined
   * and checked in src/config/session.ts ({@link AllowSpinning}).
   */
  allowSpinning?: AllowSpinning;
  /** Graph optimisation level 0 (none), 1 (basic), 2 (extended), 99 (all, the default). */
  optimizationLevel?: 0 | 1 | 2 | 99;
  /** Path of libonnxruntime (default: the one inside onnxruntime-node, or $AUTOCONTRAST_ORT_LIBRARY). */
  libraryPath?: string;
  /**
   * `cpu` (default) or `cuda`: ONNX Runtime's CUDA execution provider, with the KV cache, logits and exit outputs
   * in device memory and the contrast run on the GPU by the autocontrast CUDA library, on the same stream; only
   * token ids, their log-probabilities and head sizes come back per step (see {@link Sequence.readOutputs}).
   * Needs onnxruntime-node's CUDA provider (not installed by default: {@link cudaRuntimeStatus} says why it
   * cannot be used and how to install it).
   */
  device?: 'cpu' | 'cuda';
  /** CUDA device index (default 0). */
  deviceId?: number;
}

/** Contrast settings for the native fast path (see the kernel's `contrast`). */
export interface StepContrastOptions {
  /** `acd` (default), `cd`, or `plain`: no contrast, the expert's own log-softmax (the contrast fields are ignored). */
  mode?: 'acd' | 'cd' | 'plain';
  /** Plausibility threshold in [0, 1] (default 0.1). */
  alpha?: number;
  /** Minimum head size (default 1). */
  minCandidates?: number;
  /** CD only: (1 + beta) z_e - beta z_a. */
  beta?: number;
  /**
   * Sample the token instead of taking the argmax, with the decoding chain's rule (temperature, then top-k, then
   * top-p, then a draw; row r draws from stream r of `seed`, the generator of native/kernels/select.h).
   */
  sample?: { temperature?: number; topK?: number; topP?: number; seed?: number };
  /**
   * The sparse amateur (acd / cd): the exit's hidden state (the sequence binds `exit.hidden`) times the rows of this
   * `[V x hiddenSize]` head that the plausibility head needs, instead of the exit's logits.
   */
  sparse?: { weight: Float32Array | Uint16Array; weightDtype: 'float32' | 'float16' | 'bfloat16'; bias?: Float32Array | Uint16Array };
}

/**
 * What a step returns. The arrays are views valid until the next step of this sequence. On device `cuda` the
 * outputs stay in device memory: the views are filled only by {@link Sequence.readOutputs}.
 */
export interface StepOutput {
  /** Expert logits of the last position, `[batch x vocabSize]` (view over native memory). */
  logits: Float32Array;
  /** The exit's logits, `[batch x vocabSize]`, when the sequence was created with `exit.logits`. */
  exitLogits?: Float32Array;
  /** The exit's hidden state, `[batch x hiddenSize]`, when created with `exit.hidden`. */
  exitHidden?: Float32Array;
  /**
   * Every bound exit's outputs by layer (`exit` and `exits` alike; views like the others). `exitLogits` and
   * `exitHidden` are the first bound exit's.
   */
  exitOutputs: ReadonlyMap<number, ExitOutput>;
  /** Tokens in the cache after this step (padding included). */
  pastLength: number;
  /** Native step time in ms (binding, Run, post-processing). */
  stepMs: number;
  /** Time inside ONNX Runtime's Run in ms. */
  runMs: number;
  /** Time of the runtime's output head in ms ({@link GraphDescription.outputHead}; 0 without one). */
  headMs: number;
}

/** One exit's last-position outputs (views over native memory, valid until the next step). */
export interface ExitOutput {
  /** `exit.{L}.logits`, `[batch x vocabSize]`, when requested. */
  logits?: Float32Array;
  /** `exit.{L}.hidden`, `[batch x hiddenSize]`, when requested. */
  hidden?: Float32Array;
}

/** An exit a sequence reads every step: logits (default true) and/or the hidden state (default false). */
export interface ExitRequest {
  layer: number;
  logits?: boolean;
  hidden?: boolean;
}

/** A step with the native contrast applied. */
export interface ContrastStepOutput extends StepOutput {
  /** Contrasted log-probabilities `[batch x vocabSize]` (the log-softmax of the kernel's output: ACD keeps the tail at the expert's probability, CD has -Infinity there). A view, valid until the next step. */
  scores: Float32Array;
  /** Per row: the selected token (the argmax of the contrasted distribution, or the sampled one). */
  tokens: Int32Array;
  /** Per row: its log-probability under the contrasted distribution (log-softmax of `scores`). */
  logprobs: Float32Array;
  /** Per row: the head (plausible set) size. */
  headSize: Int32Array;
}

/** Options of {@link RuntimeModel.createSequence}. */
export interface SequenceOptions {
  /** Rows decoded together (prompts, or beams). */
  batch: number;
  /** Hard context limit for this sequence (prompt + generated, padding included), <= the model's context length. */
  maxLength: number;
  /** Exit outputs to fetch every step (the one-exit form; it becomes the first bound exit). */
  exit?: ExitRequest;
  /**
   * Several exits to fetch every step (after `exit`, if given; distinct layers). The first bound exit is the
   * one `exitLogits` / `exitHidden` and the native contrast use; all appear in `exitOutputs`.
   */
  exits?: ExitRequest[];
}
