/**
 * `convert(input, options)`: a GGUF file or a Hugging Face checkpoint folder -> a multi-exit
 * model folder, written atomically (nothing is left behind on failure).
 */
import * as fs from 'node:fs';
import { buildDecoderGraph } from '../graph/build-decoder';
import type { MatMulNBitsOptions } from '../graph/matmul-nbits';
import type { BuiltDecoderGraph } from '../graph/decoder-graph';
import { buildGptNeoGraph } from './gpt-neo-graph';
import { writeBuiltFolder } from './write-built-folder';
import type { ExitSpec } from '../graph/decoder-config';
import type { GraphForm, LogitPositions } from '../graph/decoder-config';
import { isWeightForm, WEIGHT_FORMS, weightFormSpec, type WeightForm } from '../graph/weight-forms';
import type { ModelManifest } from '../manifest/manifest-types';
import { writeModelFolder } from '../manifest/write-model-folder';
import { ConvertError } from './convert-error';
import { allLayers, checkExitLayers, lensExits, parseExitList, rawExits } from './exits';
import { importGguf } from './gguf';
import { readHeadsFile, type HeadsFromFile } from './heads-file';
import { importHf } from './hf';
import type { ImportedModel } from './imported-model';

/** Options of {@link convert}. */
export interface ConvertOptions {
  /** Output model folder. */
  readonly out: string;
  /**
   * Exit layers: a list, `"all"` / a `"4,8"` string, or undefined: the checkpoint's own exits
   * when it has trained heads, else logit-lens exits at every layer.
   */
  readonly exits?: readonly number[] | string;
  /** A safetensors file of trained heads `exit_heads.{L}.weight` ([V, d]). */
  readonly heads?: string;
  /**
   * Outputs of every exit: `both` (default: `exit.{L}.hidden` and `exit.{L}.logits`) or `hidden`
   * (no per-exit logits: much cheaper decode steps with many exits; the amateur's logits are then
   * computed from the hidden state and the head, e.g. by the sparse kernel).
   */
  readonly exitOutputs?: 'both' | 'hidden';
  /**
   * Kind of the exits made for a checkpoint without trained heads: `lens` (default: final norm, then the LM
   * head: the logit lens, the paper's exits) or `raw` (the LM head on the residual stream without the final
   * norm: the exits of transformers' DoLa, for `mode: 'dola'` parity with it).
   */
  readonly exitKind?: 'lens' | 'raw';
  /** Replace an existing output folder (default false). */
  readonly overwrite?: boolean;
  /** Positions of logits/exit outputs (default `input`: one graph for scoring and decoding). */
  readonly logitPositions?: LogitPositions;
  /** Progress of the weight data written, in bytes. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Weight storage: `float32` (default: every matrix dequantised) or `q4`: GGUF Q4_0 / Q4_1
   * linear-layer matrices stay 4-bit as ONNX Runtime's `com.microsoft.MatMulNBits` (other tensor
   * types, the embedding and the LM head stay float32). Has no effect on float checkpoints.
   */
  readonly quantized?: 'q4' | 'float32';
  /** Tuning of the `q4` path (accuracy level, Q4_1 encoding). */
  readonly matMulNBits?: MatMulNBitsOptions;
  /**
   * A named weight form (`float32`, `q4`, `q4-fast`; see {@link WeightForm}): sets `quantized` and
   * `matMulNBits` together (give either this or those).
   */
  readonly weightForm?: WeightForm;
  /**
   * Graph form (default `fused`: ONNX Runtime's contrib operators where the architecture has a fused
   * builder; `reference`: standard operators only).
   */
  readonly graphForm?: GraphForm;
  /** Non-fatal notes (e.g. a tokenizer that could not be converted). */
  readonly onWarning?: (message: string) => void;
}

/** What {@link convert} produced. */
export interface ConvertResult {
  /** Absolute model folder. */
  readonly dir: string;
  /** Its manifest. */
  readonly manifest: ModelManifest;
  /** Input format. */
  readonly format: 'gguf' | 'hf';
  /** Seconds taken. */
  readonly seconds: number;
  /** Bytes written (all files of the folder). */
  readonly bytesWritten: number;
}

/**
 * Opens `input` with the matching importer: a `.gguf` file (or any file starting with the GGUF
 * magic) or a folder with `config.json`.
 */
export function importCheckpoint(input: string, options: { quantized?: 'q4' | 'float32' } = {}): ImportedModel {
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch {
    throw new ConvertError(`${input}: no such file or folder`);
  }
  if (st.isDirectory()) return importHf(input);
  const fd = fs.openSync(input, 'r');
  const magic = Buffer.alloc(4);
  try {
    fs.readSync(fd, magic, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (magic.toString('latin1') === 'GGUF') return importGguf(input, { weights: options.quantized });
  throw new ConvertError(`${input}: not a GGUF file (bad magic) and not a Hugging Face checkpoint folder`);
}

function chooseExits(m: ImportedModel, requested: number[] | 'all' | undefined, heads: HeadsFromFile | undefined, kind: 'lens' | 'raw'): ExitSpec[] {
  const n = m.config.numLayers;
  const layers = requested === undefined ? undefined : checkExitLayers(requested === 'all' ? allLayers(n) : requested, n);
  if (heads) return heads.exits(layers ?? heads.layers);
  if (m.checkpointExits.length > 0) {
    if (!layers) return [...m.checkpointExits];
    return layers.map((l) => m.checkpointExits.find((e) => e.layer === l) ?? { layer: l, kind });
  }
  return (kind === 'raw' ? rawExits : lensExits)(layers ?? allLayers(n));
}

/** `options` with `weightForm` expanded into `quantized` and `matMulNBits`. */
function withWeightForm(options: ConvertOptions): ConvertOptions {
  if (options.weightForm === undefined) return options;
  if (!isWeightForm(options.weightForm)) {
    throw new ConvertError(`weight form must be one of ${WEIGHT_FORMS.join(', ')} (got "${String(options.weightForm)}")`);
  }
  if (options.quantized !== undefined || options.matMulNBits !== undefined) {
    throw new ConvertError('give either weightForm or quantized/matMulNBits, not both');
  }
  const spec = weightFormSpec(options.weightForm);
  return { ...options, quantized: spec.quantized, ...(spec.matMulNBits ? { matMulNBits: spec.matMulNBits } : {}) };
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) n += fs.statSync(`${dir}/${f}`).size;
  return n;
}

/**
 * Converts a GGUF file or Hugging Face checkpoint folder into a model folder at `options.out`.
 * Weights are read, dequantised and written one tensor at a time.
 * @throws {ConvertError} for user-facing problems (unsupported model, bad file, mismatched
 * config and weights, bad exits); no output folder is left behind.
 */
export async function convert(input: string, opts: ConvertOptions): Promise<ConvertResult> {
  const t0 = Date.now();
  const options = withWeightForm(opts);
  if (options.graphForm !== undefined && options.graphForm !== 'fused' && options.graphForm !== 'reference') {
    throw new ConvertError(`graph form must be "fused" or "reference" (got "${String(options.graphForm)}")`);
  }
  const graphForm = options.graphForm ?? 'fused';
  const requested = typeof options.exits === 'string' ? parseExitList(options.exits) : options.exits ? [...options.exits] : undefined;
  if (fs.existsSync(options.out) && !options.overwrite) throw new ConvertError(`${options.out} already exists (use overwrite to replace it)`);
  if (options.quantized !== undefined && options.quantized !== 'q4' && options.quantized !== 'float32') {
    throw new ConvertError(`weights must be "q4" or "float32" (got "${String(options.quantized)}")`);
  }
  const q4 = options.quantized === 'q4';
  const m = importCheckpoint(input, { quantized: options.quantized });
  let heads: HeadsFromFile | undefined;
  try {
    if (options.heads) heads = readHeadsFile(options.heads, m.config.vocabSize, m.config.hiddenSize);
    if (options.exitKind !== undefined && options.exitKind !== 'lens' && options.exitKind !== 'raw') {
      throw new ConvertError(`exit kind must be "lens" or "raw" (got "${String(options.exitKind)}")`);
    }
    const chosen = chooseExits(m, requested, heads, options.exitKind ?? 'lens');
    if (options.exitOutputs !== undefined && options.exitOutputs !== 'both' && options.exitOutputs !== 'hidden') {
      throw new ConvertError(`exit outputs must be "both" or "hidden" (got "${String(options.exitOutputs)}")`);
    }
    const exits = options.exitOutputs === 'hidden' ? chosen.map((e) => ({ ...e, logits: false })) : chosen;
    const weights = new Map(m.weights);
    if (heads) for (const [k, v] of heads.weights) weights.set(k, v);
    const logitPositions = options.logitPositions ?? 'input';
    const config = m.config;
    let built: BuiltDecoderGraph;
    try {
      built = config.architecture === 'gpt-neo'
        ? buildGptNeoGraph(config, weights, { exits, logitPositions })
        : buildDecoderGraph(config, weights, { exits, logitPositions, graphForm, ...(q4 ? { matMulNBits: options.matMulNBits ?? {} } : {}) });
    } catch (e) {
      throw new ConvertError(`the weights do not match the configuration: ${(e as Error).message}`);
    }
    for (const w of m.warnings) options.onWarning?.(w);
    const files = {
      tokenizerJson: m.tokenizerJson,
      tokenizerConfigJson: m.tokenizerConfigJson,
      specialTokens: m.specialTokens,
      overwrite: options.overwrite,
      onProgress: options.onProgress,
    };
    const written = config.architecture === 'gpt-neo' || q4
      ? await writeBuiltFolder(options.out, built, { ...files, ...(config.architecture === 'gpt-neo' ? { manifestConfig: config } : {}) })
      : await writeModelFolder(options.out, { config, weights, exits, logitPositions, graphForm, ...files });
    return {
      dir: written.dir,
      manifest: written.manifest,
      format: m.format,
      seconds: (Date.now() - t0) / 1000,
      bytesWritten: folderBytes(written.dir),
    };
  } finally {
    heads?.close();
    m.close();
  }
}
