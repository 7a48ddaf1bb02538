/**
 * The model-folder manifest (`autocontrast.json`): what a multi-exit model folder holds and
 * which graph inputs/outputs carry what. See FORMAT.md beside this file.
 */
import type { DecoderConfig, ExitKind, GraphForm, LogitPositions } from '../graph/decoder-config';

/** File name of the manifest inside a model folder. */
export const MANIFEST_FILE = 'autocontrast.json';

/** Value of the manifest's `format` field. */
export const MANIFEST_FORMAT = 'autocontrast-multi-exit-model';

/** Current manifest format version. */
export const MANIFEST_VERSION = 1;

/** Special token ids (absent when the model has none). */
export interface SpecialTokens {
  /** Beginning-of-sequence token id. */
  readonly bos?: number;
  /** End-of-sequence token ids (generation stops at any of them). */
  readonly eos?: readonly number[];
  /** Padding token id. */
  readonly pad?: number;
  /** Unknown-token id. */
  readonly unk?: number;
}

/** One exit as recorded in the manifest. */
export interface ManifestExit {
  /** Exit layer: output of block L (1-based), 0 = embeddings, numLayers = last block. */
  readonly layer: number;
  /** `lens` (final norm + LM head), `head` (trained per-exit head) or `conversion` (d x d matrix + LM head). */
  readonly kind: ExitKind;
  /** Graph output with the vector this exit's head multiplies, `[batch, positions, hiddenSize]`. */
  readonly hiddenOutput?: string;
  /** Graph output with this exit's logits, `[batch, positions, vocabSize]`. */
  readonly logitsOutput?: string;
  /** How the exit was fitted, when `fit-exits` produced it (absent for converted exits). */
  readonly fit?: FitRecord;
}

/** What `fit-exits` recorded about a fitted exit. */
export interface FitRecord {
  /** `head` (trained linear head), `lens` (tuned-lens translator) or `linear` (least-squares translator). */
  readonly method: 'head' | 'lens' | 'linear';
  /** SHA-256 of the fitting data (file contents in order, or the self-sampled token ids). */
  readonly dataHash: string;
  /** `files` or `self-distillation`. */
  readonly dataSource: 'files' | 'self-distillation';
  /** Tokens fitted on (training chunks only). */
  readonly tokens: number;
  /** Tokens held out for validation. */
  readonly validationTokens: number;
  /** Optimiser steps (0 for the closed-form `linear`). */
  readonly steps: number;
  /** Validation cross-entropy (nats per token, next token) of the fitted exit. */
  readonly validationLoss: number;
  /** The same for the logit lens at this layer, measured on the same tokens. */
  readonly logitLensValidationLoss: number;
  /** Share of validation positions whose arg-max equals the final layer's, fitted exit. */
  readonly top1Agreement: number;
  /** The same for the logit lens. */
  readonly logitLensTop1Agreement: number;
  /** Seed, sequence length and optimiser settings of the run. */
  readonly settings: Readonly<Record<string, number | string | boolean>>;
}

/** Names of the graph's inputs and outputs. `{i}` in a template is the 0-based block index. */
export interface ManifestGraphIO {
  /** `input_ids`. */
  readonly inputIds: string;
  /** `attention_mask`. */
  readonly attentionMask: string;
  /** `position_ids`. */
  readonly positionIds: string;
  /** `past_key_values.{i}.key`. */
  readonly pastKey: string;
  /** `past_key_values.{i}.value`. */
  readonly pastValue: string;
  /** `num_logits_to_keep` when `logitPositions` is `input`. */
  readonly numLogitsToKeep?: string;
  /** `logits`. */
  readonly logits: string;
  /** `present.{i}.key`. */
  readonly presentKey: string;
  /** `present.{i}.value`. */
  readonly presentValue: string;
}

/** The graph file and its interface. */
export interface ManifestGraph {
  /** ONNX file name inside the folder. */
  readonly file: string;
  /** External-data file name, or null when all weights are inside the ONNX file. */
  readonly externalData: string | null;
  /** Positions covered by `logits` and exit outputs. */
  readonly logitPositions: LogitPositions;
  /** Input/output names. */
  readonly io: ManifestGraphIO;
  /** `reference` (standard operators) or `fused` (ONNX Runtime contrib operators); absent in older folders. */
  readonly form?: GraphForm;
}

/** The whole manifest. */
export interface ModelManifest {
  /** Always {@link MANIFEST_FORMAT}. */
  readonly format: typeof MANIFEST_FORMAT;
  /** Always {@link MANIFEST_VERSION} for this version. */
  readonly formatVersion: number;
  /** Architecture family. */
  readonly architecture: DecoderConfig['architecture'];
  /** Number of transformer blocks. */
  readonly numLayers: number;
  /** Hidden width d. */
  readonly hiddenSize: number;
  /** Query heads. */
  readonly numHeads: number;
  /** Key/value heads. */
  readonly numKvHeads: number;
  /** Head width. */
  readonly headDim: number;
  /** Vocabulary size V (logits width). */
  readonly vocabSize: number;
  /** Maximum context length in tokens. */
  readonly contextLength: number;
  /** Special token ids. */
  readonly specialTokens: SpecialTokens;
  /** Graph file and interface. */
  readonly graph: ManifestGraph;
  /** Exits, sorted by layer. */
  readonly exits: readonly ManifestExit[];
  /** Tokenizer files inside the folder (null when absent). */
  readonly tokenizer: { readonly file: string | null; readonly configFile: string | null };
  /**
   * Which weight form the graph holds (`float32`, `q4`, `q4-fast`; see the README's weight forms) and
   * what that means; absent in folders written before the forms had names.
   */
  readonly weights?: { readonly form: string; readonly description: string };
  /** The full builder configuration, when the folder was written by this package. */
  readonly config?: DecoderConfig;
}

/** Expands a `{i}` name template for block `i`. */
export function blockName(template: string, i: number): string {
  return template.split('{i}').join(String(i));
}
