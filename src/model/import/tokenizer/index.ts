/**
 * Tokenizers for imported models: a Hugging Face tokenizer.json written from GGUF metadata, and a
 * loader that runs tokenizer.json files with @huggingface/tokenizers.
 * @module
 */
export { tokenizerJsonFromGguf, SUPPORTED_GGUF_TOKENIZER_MODELS } from './tokenizer-from-gguf';
export { loadTokenizer } from './load-tokenizer';
export type { DecodeOptions, EncodeOptions, LoadTokenizerOptions, LoadedTokenizer } from './load-tokenizer';
export { adaptTokenizerJsonForJs } from './js-compat';
export { KNOWN_BPE_PRE_TOKENIZERS, bpePreTokenizerConfig, GPT2_SPLIT_REGEX, LLAMA3_SPLIT_REGEX, QWEN2_SPLIT_REGEX } from './pre-tokenizer-configs';
export type { BpePreTokenizerConfig } from './pre-tokenizer-configs';
export { readGgufVocab } from './gguf-vocab';
export type { GgufVocab } from './gguf-vocab';
export { spmMergesFromScores, SPM_SPACE } from './spm-from-gguf';
export { splitMerge } from './bpe-from-gguf';
export { GgufTokenType } from './token-types';
export type * from './hf-tokenizer-json';
