/**
 * GGUF (llama.cpp) Llama-family checkpoints -> the Llama graph builder's configuration and
 * Hugging Face weight names. Weights are dequantised lazily, one tensor at a time, when the
 * model file is written.
 */
import type { LlamaConfig } from '../graph/decoder-config';
import type { WeightTensor } from '../graph/onnx/tensor-source';
import { ropeInverseFrequencies } from '../graph/rotary';
import { canDequantize } from '../import/gguf/dequantize/index';
import { GgufError } from '../import/gguf/errors';
import { readGguf, type GgufFile } from '../import/gguf/gguf-file';
import { GgmlType, ggmlTypeName } from '../import/gguf/tensor-types';
import { tokenizerJsonFromGguf } from '../import/tokenizer/tokenizer-from-gguf';
import type { SpecialTokens } from '../manifest/manifest-types';
import { ConvertError } from './convert-error';
import type { ImportedModel } from './imported-model';

/**
 * GGUF architectures converted, with their rotary layout: llama.cpp keeps Llama Q/K rows in the
 * Meta (interleaved) order and uses NeoX (half) rope for Qwen2.
 */
export const GGUF_ARCHITECTURES: Readonly<Record<string, 'half' | 'interleaved'>> = {
  llama: 'interleaved',
  qwen2: 'half',
};

const BLOCK_MAP: readonly [string, string][] = [
  ['attn_norm.weight', 'input_layernorm.weight'],
  ['ffn_norm.weight', 'post_attention_layernorm.weight'],
  ['attn_q.weight', 'self_attn.q_proj.weight'],
  ['attn_k.weight', 'self_attn.k_proj.weight'],
  ['attn_v.weight', 'self_attn.v_proj.weight'],
  ['attn_q.bias', 'self_attn.q_proj.bias'],
  ['attn_k.bias', 'self_attn.k_proj.bias'],
  ['attn_v.bias', 'self_attn.v_proj.bias'],
  ['attn_output.weight', 'self_attn.o_proj.weight'],
  ['ffn_gate.weight', 'mlp.gate_proj.weight'],
  ['ffn_up.weight', 'mlp.up_proj.weight'],
  ['ffn_down.weight', 'mlp.down_proj.weight'],
];

function specialTokens(g: GgufFile, vocab: number): SpecialTokens {
  const id = (key: string): number | undefined => {
    const v = g.metadata.getIntegerOr(`tokenizer.ggml.${key}_token_id`, undefined);
    return v !== undefined && v >= 0 && v < vocab ? v : undefined;
  };
  const eos = id('eos');
  const eot = id('eot');
  const eosList = [...new Set([eos, eot].filter((x): x is number => x !== undefined))];
  return { bos: id('bos'), eos: eosList.length ? eosList : undefined, pad: id('padding'), unk: id('unknown') };
}

function llamaConfigFromGguf(g: GgufFile, arch: string, rotary: 'half' | 'interleaved'): LlamaConfig {
  const md = g.metadata;
  const key = (k: string) => `${arch}.${k}`;
  const embd = g.findTensor('token_embd.weight');
  if (!embd) throw new ConvertError('GGUF file has no token_embd.weight tensor');
  const d = md.getInteger(key('embedding_length'));
  const H = md.getInteger(key('attention.head_count'));
  const kvH = md.getIntegerOr(key('attention.head_count_kv'), H);
  const headDim = md.getIntegerOr(key('attention.key_length'), d / H);
  const ropeDims = md.getIntegerOr(key('rope.dimension_count'), headDim);
  if (ropeDims !== headDim) throw new ConvertError(`partial rotary (rope.dimension_count ${ropeDims} < head size ${headDim}) is not supported`);
  const scaling = md.getStringOr(key('rope.scaling.type'), 'none');
  if (scaling !== 'none' && scaling !== '') throw new ConvertError(`rope scaling "${scaling}" is not supported`);
  const theta = md.getNumberOr(key('rope.freq_base'), 10000);
  let ropeInvFreq: number[] | undefined;
  const freqs = g.findTensor('rope_freqs.weight');
  if (freqs) {
    const f = g.readTensorFloat32(freqs);
    const base = ropeInverseFrequencies(headDim, theta);
    if (f.length !== base.length) throw new ConvertError(`rope_freqs.weight has ${f.length} values, expected ${base.length}`);
    ropeInvFreq = Array.from(base, (v, i) => v / f[i]);
  }
  const ff = md.getInteger(key('feed_forward_length'));
  return {
    architecture: 'llama',
    numLayers: md.getInteger(key('block_count')),
    hiddenSize: d,
    numHeads: H,
    numKvHeads: kvH,
    headDim,
    vocabSize: embd.shape[0],
    contextLength: md.getIntegerOr(key('context_length'), 2048),
    intermediateSize: ff,
    normEpsilon: md.getNumber(key('attention.layer_norm_rms_epsilon')),
    tieWordEmbeddings: !g.findTensor('output.weight'),
    ropeTheta: theta,
    rotary,
    ...(ropeInvFreq ? { ropeInvFreq } : {}),
    attentionBias: !!g.findTensor('blk.0.attn_q.bias'),
  };
}

/** Maps GGUF tensor names to Hugging Face Llama names (undefined for tensors the graph does not use). */
export function ggufToHfName(name: string): string | undefined {
  if (name === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (name === 'output_norm.weight') return 'model.norm.weight';
  if (name === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const hit = BLOCK_MAP.find(([g]) => g === m[2]);
  return hit ? `model.layers.${m[1]}.${hit[1]}` : undefined;
}

/** Options of {@link importGguf}. */
export interface GgufImportOptions {
  /**
   * `q4`: Q4_0 / Q4_1 matrices also carry their raw 4-bit blocks (`WeightTensor.q4`), Q8_0 matrices their
   * 8-bit blocks (`WeightTensor.q8`), so that the graph can keep them quantised; `float32` (default):
   * dequantised data only.
   */
  readonly weights?: 'q4' | 'float32';
}

/**
 * Opens a GGUF file for conversion. Checks the architecture and that every used tensor can be
 * dequantised before anything is written.
 * @throws {ConvertError} for unsupported architectures or tensor types and malformed metadata.
 */
export function importGguf(file: string, options: GgufImportOptions = {}): ImportedModel {
  let g: GgufFile;
  try {
    g = readGguf(file);
  } catch (e) {
    if (e instanceof GgufError) throw new ConvertError(`${file}: ${e.message}`);
    throw e;
  }
  try {
    const arch = g.architecture ?? '(none)';
    const rotary = GGUF_ARCHITECTURES[arch];
    if (!rotary) {
      throw new ConvertError(`unsupported GGUF architecture "${arch}" (supported: ${Object.keys(GGUF_ARCHITECTURES).join(', ')})`);
    }
    let config: LlamaConfig;
    try {
      config = llamaConfigFromGguf(g, arch, rotary);
    } catch (e) {
      if (e instanceof GgufError) throw new ConvertError(`${file}: ${e.message}`);
      throw e;
    }
    const weights = new Map<string, WeightTensor>();
    let sourceBytes = 0;
    const gg = g;
    for (const t of g.tensors) {
      const hf = ggufToHfName(t.name);
      if (!hf) continue;
      if (!canDequantize(t.type)) throw new ConvertError(`unsupported tensor type ${ggmlTypeName(t.type)} (tensor ${t.name})`);
      if (t.offset + t.byteSize > g.fileSize) throw new ConvertError(`${file}: tensor ${t.name} extends past the end of the file (truncated?)`);
      sourceBytes += t.byteSize;
      const q4Kind = t.type === GgmlType.Q4_0 ? 'q4_0' : t.type === GgmlType.Q4_1 ? 'q4_1' : undefined;
      const keepQ4 = options.weights === 'q4' && q4Kind !== undefined && t.shape.length === 2;
      const keepQ8 = options.weights === 'q4' && t.type === GgmlType.Q8_0 && t.shape.length === 2;
      weights.set(hf, {
        dims: [...t.shape],
        data: () => gg.readTensorFloat32(t),
        ...(keepQ4 ? { q4: { kind: q4Kind, read: () => gg.readQ4Rows(t, 0, t.shape[0]) } } : {}),
        ...(keepQ8 ? { q8: { read: () => gg.readQ8Rows(t, 0, t.shape[0]) } } : {}),
      });
    }
    const warnings: string[] = [];
    let tokenizerJson: object | undefined;
    try {
      tokenizerJson = tokenizerJsonFromGguf(g);
    } catch (e) {
      warnings.push(`no tokenizer written: ${(e as Error).message}`);
    }
    return {
      format: 'gguf',
      config,
      weights,
      checkpointExits: [],
      tokenizerJson,
      specialTokens: specialTokens(g, config.vocabSize),
      sourceBytes,
      warnings,
      close: () => gg.close(),
    };
  } catch (e) {
    g.close();
    throw e;
  }
}
