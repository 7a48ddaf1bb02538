/**
 * What an importer hands to the conversion: a builder configuration, lazily loaded weights,
 * tokenizer files and the exits the checkpoint itself defines.
 */
import type { ExitSpec } from '../graph/decoder-config';
import type { WeightTensor } from '../graph/onnx/tensor-source';
import type { SpecialTokens } from '../manifest/manifest-types';
import type { ImportConfig } from './hf-config';

/** A checkpoint opened for conversion. Call {@link ImportedModel.close} when done. */
export interface ImportedModel {
  /** Input format. */
  readonly format: 'gguf' | 'hf';
  /** Builder configuration. */
  readonly config: ImportConfig;
  /** Weights by the builder's names (data read on demand). */
  readonly weights: Map<string, WeightTensor>;
  /** Exits defined by the checkpoint (trained heads / conversion matrices); empty when none. */
  readonly checkpointExits: readonly ExitSpec[];
  /** tokenizer.json contents, when available. */
  readonly tokenizerJson?: string | object;
  /** tokenizer_config.json contents, when available. */
  readonly tokenizerConfigJson?: string | object;
  /** Special token ids. */
  readonly specialTokens: SpecialTokens;
  /** Bytes of stored weight data (for reporting). */
  readonly sourceBytes: number;
  /** Non-fatal notes (e.g. tokenizer not convertible). */
  readonly warnings: readonly string[];
  /** Releases file handles. */
  close(): void;
}
