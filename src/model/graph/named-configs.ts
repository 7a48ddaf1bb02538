/**
 * Decoder configurations with the shapes of well-known models (random weights are fine for
 * timing) and tiny configurations for tests.
 */
import type { Gpt2Config, LlamaConfig } from './decoder-config';

/** GPT-2 small (124M): 12 layers, d 768, 12 heads, vocabulary 50257, context 1024. */
export const GPT2_SMALL_CONFIG: Gpt2Config = {
  architecture: 'gpt2', numLayers: 12, hiddenSize: 768, numHeads: 12, vocabSize: 50257,
  contextLength: 1024, intermediateSize: 3072, normEpsilon: 1e-5, tieWordEmbeddings: true, activation: 'gelu_new',
};

/** GPT-2 medium (355M): 24 layers, d 1024, 16 heads. */
export const GPT2_MEDIUM_CONFIG: Gpt2Config = {
  ...GPT2_SMALL_CONFIG, numLayers: 24, hiddenSize: 1024, numHeads: 16, intermediateSize: 4096,
};

/** SmolLM2-135M: 30 layers, d 576, 9 heads / 3 kv heads of 64, MLP 1536, vocabulary 49152, rope theta 1e5, tied. */
export const SMOLLM2_135M_CONFIG: LlamaConfig = {
  architecture: 'llama', numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64,
  vocabSize: 49152, contextLength: 8192, intermediateSize: 1536, normEpsilon: 1e-5,
  tieWordEmbeddings: true, ropeTheta: 100000, rotary: 'half',
};

/** A tiny GPT-2 for tests: 3 layers, d 16, 4 heads, vocabulary 40, context 32. */
export const TINY_GPT2_CONFIG: Gpt2Config = {
  architecture: 'gpt2', numLayers: 3, hiddenSize: 16, numHeads: 4, vocabSize: 40,
  contextLength: 32, intermediateSize: 64, normEpsilon: 1e-5, tieWordEmbeddings: true, activation: 'gelu_new',
};

/** A tiny Llama for tests: 3 layers, d 16, 4 heads / 2 kv heads of 4, vocabulary 40, untied head. */
export const TINY_LLAMA_CONFIG: LlamaConfig = {
  architecture: 'llama', numLayers: 3, hiddenSize: 16, numHeads: 4, numKvHeads: 2, vocabSize: 40,
  contextLength: 64, intermediateSize: 24, normEpsilon: 1e-5, tieWordEmbeddings: false,
  ropeTheta: 10000, rotary: 'half',
};

/** Named configurations by short name (for benchmarks and the CLI). */
export const NAMED_CONFIGS = {
  'gpt2-small': GPT2_SMALL_CONFIG,
  'gpt2-medium': GPT2_MEDIUM_CONFIG,
  'smollm2-135m': SMOLLM2_135M_CONFIG,
  'tiny-gpt2': TINY_GPT2_CONFIG,
  'tiny-llama': TINY_LLAMA_CONFIG,
} as const;
