/**
 * Configuration types shared by the decoder graph builders: architecture hyper-parameters,
 * exit specifications and build options.
 *
 * Layer/exit convention: blocks are numbered 1..numLayers. Exit `L` reads the residual stream
 * after block `L` (L = 0 is the embedding output, before any block), exactly as Hugging Face's
 * `hidden_states[L]` and the reference package's `lm_head_layer_indices`. Exit `numLayers` with
 * kind `lens` equals the model's own `logits`.
 */
import type { MatMulNBitsOptions } from './matmul-nbits';

/** Hyper-parameters common to every decoder architecture. */
export interface DecoderConfigBase {
  /** Number of transformer blocks. */
  readonly numLayers: number;
  /** Residual stream width d. */
  readonly hiddenSize: number;
  /** Number of query heads. */
  readonly numHeads: number;
  /** Vocabulary size V (rows of the embedding). */
  readonly vocabSize: number;
  /** Maximum context length (positions). */
  readonly contextLength: number;
  /** MLP inner width. */
  readonly intermediateSize: number;
  /** Epsilon of the layer norms / RMS norms. */
  readonly normEpsilon: number;
  /** Whether the LM head reuses the token embedding (no `lm_head.weight` needed). */
  readonly tieWordEmbeddings: boolean;
}

/** A GPT-2 style decoder (learned positions, LayerNorm, fused QKV as Conv1D, GELU MLP). */
export interface Gpt2Config extends DecoderConfigBase {
  /** Architecture tag. */
  readonly architecture: 'gpt2';
  /** MLP activation: `gelu_new` (tanh approximation, GPT-2's default) or `gelu` (exact erf). */
  readonly activation?: 'gelu_new' | 'gelu';
}

/**
 * Rotary embedding layout.
 * - `half` (NeoX / Hugging Face Llama): dimension i is paired with i + headDim/2. Use it with
 *   Hugging Face checkpoints (`q_proj`/`k_proj` as stored in safetensors).
 * - `interleaved` (original Meta / GPT-J / llama.cpp "NORM" rope): dimension 2i is paired with
 *   2i + 1. Use it with llama.cpp GGUF Llama weights, whose Q/K rows the GGUF converter permuted
 *   back to the Meta layout (no un-permuting needed).
 */
export type RotaryLayout = 'half' | 'interleaved';

/** A Llama-family decoder (RMSNorm, rotary positions, grouped-query attention, SwiGLU). */
export interface LlamaConfig extends DecoderConfigBase {
  /** Architecture tag. */
  readonly architecture: 'llama';
  /** Number of key/value heads (divides numHeads; < numHeads is grouped-query attention). */
  readonly numKvHeads: number;
  /** Head width (default hiddenSize / numHeads). */
  readonly headDim?: number;
  /** Rotary base (rope_theta). */
  readonly ropeTheta: number;
  /** Rotary pairing layout (see {@link RotaryLayout}). */
  readonly rotary: RotaryLayout;
  /**
   * Explicit inverse frequencies (headDim/2 values), overriding ropeTheta; importers use it for
   * scaled rope variants (e.g. Llama 3 `rope_scaling`).
   */
  readonly ropeInvFreq?: readonly number[];
  /** Whether q/k/v projections have biases (Qwen2). */
  readonly attentionBias?: boolean;
}

/** Any supported decoder configuration. */
export type DecoderConfig = Gpt2Config | LlamaConfig;

/** Which outputs an exit exposes (both by default). */
export interface ExitOutputs {
  /** Output `exit.{L}.hidden`: the vector the exit's head multiplies (default true). */
  readonly hidden?: boolean;
  /** Output `exit.{L}.logits` (default true). */
  readonly logits?: boolean;
}

/** Logit lens: final norm, then the model's own LM head. */
export interface LensExitSpec extends ExitOutputs {
  /** Exit layer (0..numLayers). */
  readonly layer: number;
  /** Kind tag. */
  readonly kind: 'lens';
}

/** A trained per-exit linear head ([V, d], PyTorch layout) after the final norm. */
export interface HeadExitSpec extends ExitOutputs {
  /** Exit layer (0..numLayers). */
  readonly layer: number;
  /** Kind tag. */
  readonly kind: 'head';
  /** Weight name of the head, [V, d] (default `exit_heads.{L}.weight`). */
  readonly weight?: string;
  /** Weight name of an optional bias [V]. */
  readonly bias?: string;
  /** Apply the model's final norm before the head (default true, as the reference package does). */
  readonly applyFinalNorm?: boolean;
}

/**
 * A learned d x d conversion matrix ([d, d], PyTorch `nn.Linear` layout, y = x Wᵀ) applied to the
 * normed hidden state, then the model's shared LM head (the reference package's
 * SHARED_PROJECTION_CAST_OUTPUTS mode).
 */
export interface ConversionExitSpec extends ExitOutputs {
  /** Exit layer (0..numLayers). */
  readonly layer: number;
  /** Kind tag. */
  readonly kind: 'conversion';
  /** Weight name of the matrix (default `exit_conversions.{L}.weight`). */
  readonly weight?: string;
}

/**
 * The model's own LM head on the residual stream h_L *without* the final norm: the early exits of transformers'
 * DoLa (`lm_head(hidden_states[L])` in `_dola_decoding`). `exit.{L}.hidden` is h_L itself.
 */
export interface RawExitSpec extends ExitOutputs {
  /** Exit layer (0..numLayers). */
  readonly layer: number;
  /** Kind tag. */
  readonly kind: 'raw';
}

/** An exit request. */
export type ExitSpec = LensExitSpec | HeadExitSpec | ConversionExitSpec | RawExitSpec;

/** Exit kinds. */
export type ExitKind = ExitSpec['kind'];

/**
 * Which positions `logits` and every exit output cover.
 * - `all`: every input position (`[batch, seq, ...]`).
 * - `last`: the last position only (`[batch, 1, ...]`), what a decode step needs.
 * - `input`: an extra int64 scalar input `num_logits_to_keep` selects the last k positions
 *   (0 = all), so one graph serves both scoring and decoding.
 */
export type LogitPositions = 'all' | 'last' | 'input';

/** Options for building a decoder graph. */
export interface DecoderBuildOptions {
  /** Exits to add (none by default). */
  readonly exits?: readonly ExitSpec[];
  /** Positions of logits/exit outputs (default `all`). */
  readonly logitPositions?: LogitPositions;
  /** Default-domain opset (17 or 18; default 17). */
  readonly opset?: 17 | 18;
  /**
   * Keep 4-bit (Q4_0 / Q4_1) linear weights quantised as `com.microsoft.MatMulNBits` (Llama
   * builder; weights without a `q4` form stay float32). Off (float32 everywhere) when undefined.
   */
  readonly matMulNBits?: MatMulNBitsOptions;
  /**
   * Graph form: `reference` (default: standard ONNX operators only, the form the tests treat as the
   * reference) or `fused`: ONNX Runtime's contrib operators (GroupQueryAttention with rotary, skip +
   * RMS/Layer norm), the same function in far fewer nodes (Llama family and GPT-2; GPT-Neo and head widths
   * that are not a multiple of 16 build the reference form).
   */
  readonly graphForm?: GraphForm;
}

/** How a decoder graph is written (see {@link DecoderBuildOptions.graphForm}). */
export type GraphForm = 'reference' | 'fused';
