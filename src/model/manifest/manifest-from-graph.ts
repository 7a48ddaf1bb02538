/**
 * Builds the manifest describing a built decoder graph.
 */
import type { BuiltDecoderGraph } from '../graph/decoder-graph';
import { IO } from '../graph/io-names';
import { isWeightForm, weightFormSpec } from '../graph/weight-forms';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type ModelManifest, type SpecialTokens } from './manifest-types';

/** File names and extra facts recorded alongside the graph. */
export interface ManifestFiles {
  /** ONNX file name (default `model.onnx`). */
  readonly graphFile?: string;
  /** External data file name, or null when none was written. */
  readonly externalData: string | null;
  /** Tokenizer file name, or null. */
  readonly tokenizerFile?: string | null;
  /** Tokenizer config file name, or null. */
  readonly tokenizerConfigFile?: string | null;
  /** Special token ids. */
  readonly specialTokens?: SpecialTokens;
}

function weightsEntry(form: string): { form: string; description: string } {
  const description = isWeightForm(form) ? weightFormSpec(form).description : `4-bit matrices (MatMulNBits${form.startsWith('q4-sym-') ? ', re-quantised symmetric' : ''}, ${form.replace(/^q4-(sym-)?level-/, 'accuracy_level ')})`;
  return { form, description };
}

/** The manifest for `built`, with the file names in `files`. */
export function manifestFromGraph(built: BuiltDecoderGraph, files: ManifestFiles): ModelManifest {
  const c = built.config;
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    architecture: c.architecture,
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    numHeads: c.numHeads,
    numKvHeads: built.numKvHeads,
    headDim: built.headDim,
    vocabSize: c.vocabSize,
    contextLength: c.contextLength,
    specialTokens: files.specialTokens ?? {},
    graph: {
      file: files.graphFile ?? 'model.onnx',
      externalData: files.externalData,
      logitPositions: built.logitPositions,
      form: built.graphForm ?? 'reference',
      io: {
        inputIds: IO.inputIds,
        attentionMask: IO.attentionMask,
        positionIds: IO.positionIds,
        pastKey: 'past_key_values.{i}.key',
        pastValue: 'past_key_values.{i}.value',
        ...(built.logitPositions === 'input' ? { numLogitsToKeep: IO.numLogitsToKeep } : {}),
        logits: IO.logits,
        presentKey: 'present.{i}.key',
        presentValue: 'present.{i}.value',
      },
    },
    exits: [...built.exits]
      .sort((a, b) => a.layer - b.layer)
      .map((e) => ({
        layer: e.layer,
        kind: e.kind,
        ...(e.hiddenOutput ? { hiddenOutput: e.hiddenOutput } : {}),
        ...(e.logitsOutput ? { logitsOutput: e.logitsOutput } : {}),
      })),
    weights: weightsEntry(built.weightForm ?? 'float32'),
    tokenizer: { file: files.tokenizerFile ?? null, configFile: files.tokenizerConfigFile ?? null },
    config: c,
  };
}
