/**
 * Model importers: GGUF reading and dequantisation, and tokenizers built from GGUF metadata.
 * @module
 */
export * from './gguf/index';
export * from './tokenizer/index';
