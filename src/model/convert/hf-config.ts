/**
 * Hugging Face `config.json` -> graph builder configuration (GPT-2 and Llama family).
 */
import type { DecoderConfig, Gpt2Config, LlamaConfig } from '../graph/decoder-config';
import { ropeInverseFrequencies } from '../graph/rotary';
import { ConvertError } from './convert-error';
import type { GptNeoConfig } from './gpt-neo-graph';

/** `model_type` values converted, by builder architecture. */
export const HF_MODEL_TYPES: Readonly<Record<string, 'gpt2' | 'gpt-neo' | 'llama'>> = {
  gpt2: 'gpt2',
  gpt_neo: 'gpt-neo',
  llama: 'llama',
  mistral: 'llama',
  qwen2: 'llama',
};

type Json = Record<string, unknown>;

function num(c: Json, key: string, fallback?: number): number {
  const v = c[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw new ConvertError(`config.json: "${key}" is ${v === undefined ? 'missing' : `not a number (${JSON.stringify(v)})`}`);
}

function gpt2Config(c: Json): Gpt2Config {
  const d = num(c, 'n_embd');
  const act = c.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu') throw new ConvertError(`config.json: activation_function "${String(act)}" is not supported (gelu_new, gelu)`);
  return {
    architecture: 'gpt2',
    numLayers: num(c, 'n_layer'),
    hiddenSize: d,
    numHeads: num(c, 'n_head'),
    vocabSize: num(c, 'vocab_size'),
    contextLength: num(c, 'n_positions'),
    intermediateSize: num(c, 'n_inner', 4 * d),
    normEpsilon: num(c, 'layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: c.tie_word_embeddings !== false,
    activation: act,
  };
}

function gptNeoLayers(c: Json, n: number): ('global' | 'local')[] {
  let layers: unknown = c.attention_layers;
  if (!Array.isArray(layers) && Array.isArray(c.attention_types)) {
    // [[["global", "local"], 6]] -> global, local, global, local, ...
    layers = (c.attention_types as [string[], number][]).flatMap(([kinds, times]) => Array.from({ length: times }, () => kinds).flat());
  }
  if (!Array.isArray(layers) || layers.length !== n || !layers.every((l) => l === 'global' || l === 'local')) {
    throw new ConvertError(`config.json: attention_layers / attention_types do not describe ${n} global/local layers`);
  }
  return layers as ('global' | 'local')[];
}

function gptNeoConfig(c: Json): GptNeoConfig {
  const d = num(c, 'hidden_size');
  const n = num(c, 'num_layers');
  const act = c.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu') throw new ConvertError(`config.json: activation_function "${String(act)}" is not supported (gelu_new, gelu)`);
  return {
    architecture: 'gpt-neo',
    numLayers: n,
    hiddenSize: d,
    numHeads: num(c, 'num_heads'),
    vocabSize: num(c, 'vocab_size'),
    contextLength: num(c, 'max_position_embeddings'),
    intermediateSize: num(c, 'intermediate_size', 4 * d),
    normEpsilon: num(c, 'layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: c.tie_word_embeddings !== false,
    activation: act,
    attentionLayers: gptNeoLayers(c, n),
    windowSize: num(c, 'window_size', 256),
  };
}

/** A configuration the converter can build: the graph builder's, or GPT-Neo (assembled here). */
export type ImportConfig = DecoderConfig | GptNeoConfig;

function scaledInvFreq(c: Json, headDim: number, theta: number): number[] | undefined {
  const s = c.rope_scaling as Json | null | undefined;
  if (!s) return undefined;
  const type = (s.rope_type ?? s.type) as string | undefined;
  const base = ropeInverseFrequencies(headDim, theta);
  if (type === 'default') return undefined;
  const factor = num(s, 'factor');
  if (type === 'linear') return base.map((v) => v / factor);
  if (type === 'llama3') {
    const low = num(s, 'low_freq_factor');
    const high = num(s, 'high_freq_factor');
    const oldCtx = num(s, 'original_max_position_embeddings');
    return base.map((inv) => {
      const wavelen = (2 * Math.PI) / inv;
      if (wavelen < oldCtx / high) return inv;
      if (wavelen > oldCtx / low) return inv / factor;
      const smooth = (oldCtx / wavelen - low) / (high - low);
      return (1 - smooth) * (inv / factor) + smooth * inv;
    });
  }
  throw new ConvertError(`config.json: rope_scaling type "${String(type)}" is not supported (linear, llama3)`);
}

function llamaConfig(c: Json, modelType: string): LlamaConfig {
  const d = num(c, 'hidden_size');
  const H = num(c, 'num_attention_heads');
  const headDim = num(c, 'head_dim', d / H);
  const theta = num(c, 'rope_theta', 10000);
  const inv = scaledInvFreq(c, headDim, theta);
  return {
    architecture: 'llama',
    numLayers: num(c, 'num_hidden_layers'),
    hiddenSize: d,
    numHeads: H,
    numKvHeads: num(c, 'num_key_value_heads', H),
    headDim,
    vocabSize: num(c, 'vocab_size'),
    contextLength: num(c, 'max_position_embeddings', 2048),
    intermediateSize: num(c, 'intermediate_size'),
    normEpsilon: num(c, 'rms_norm_eps', 1e-6),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    ropeTheta: theta,
    rotary: 'half',
    ...(inv ? { ropeInvFreq: inv } : {}),
    attentionBias: modelType === 'qwen2' || c.attention_bias === true,
  };
}

/**
 * The builder configuration for a parsed `config.json`.
 * @throws {ConvertError} for unsupported model types or missing fields.
 */
export function decoderConfigFromHf(c: Json): ImportConfig {
  const type = typeof c.model_type === 'string' ? c.model_type : '(missing)';
  const arch = HF_MODEL_TYPES[type];
  if (!arch) {
    throw new ConvertError(`unsupported model_type "${type}" in config.json (supported: ${Object.keys(HF_MODEL_TYPES).join(', ')})`);
  }
  return arch === 'gpt2' ? gpt2Config(c) : arch === 'gpt-neo' ? gptNeoConfig(c) : llamaConfig(c, type);
}
