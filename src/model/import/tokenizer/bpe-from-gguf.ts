import { GgufError } from '../gguf/errors';
import type { GgufVocab } from './gguf-vocab';
import { addedTokens, buildVocabObject, templatePostProcessor } from './gguf-vocab';
import type { HfTokenizerJson } from './hf-tokenizer-json';
import { bpePreTokenizerConfig } from './pre-tokenizer-configs';

/**
 * Splits a GGUF merge string "left right" into its two parts. Tokens may themselves contain spaces,
 * so every space is tried and the first split whose halves are both in the vocabulary wins.
 */
export function splitMerge(merge: string, vocab: Record<string, number>): [string, string] | null {
  let at = merge.indexOf(' ');
  let first: [string, string] | null = null;
  while (at !== -1) {
    const pair: [string, string] = [merge.slice(0, at), merge.slice(at + 1)];
    if (pair[0] in vocab && pair[1] in vocab) return pair;
    if (!first) first = pair;
    at = merge.indexOf(' ', at + 1);
  }
  return first;
}

/**
 * A byte-level BPE tokenizer.json (GPT-2 family: `tokenizer.ggml.model = gpt2`) from GGUF vocab
 * fields: vocabulary, merges, the pre-tokenizer for `tokenizer.ggml.pre`, CONTROL/USER_DEFINED
 * tokens as added tokens, and the byte-level decoder.
 */
export function bpeTokenizerJson(v: GgufVocab): HfTokenizerJson {
  if (!v.merges) throw new GgufError('BPE tokenizer: GGUF metadata has no tokenizer.ggml.merges');
  const vocab = buildVocabObject(v.tokens);
  const merges: [string, string][] = [];
  for (const m of v.merges) {
    const pair = splitMerge(m, vocab);
    if (pair) merges.push(pair);
  }
  const cfg = bpePreTokenizerConfig(v.pre);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(v),
    normalizer: cfg.normalizer,
    pre_tokenizer: cfg.preTokenizer,
    post_processor: templatePostProcessor(v, false),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: v.unkId !== undefined ? v.tokens[v.unkId] : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: cfg.ignoreMerges,
      vocab,
      merges,
    },
  };
}
