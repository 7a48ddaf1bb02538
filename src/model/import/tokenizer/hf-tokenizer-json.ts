/**
 * The subset of Hugging Face `tokenizer.json` structures this library writes and rewrites.
 * Field names follow the file format (snake_case), so objects serialise to a valid tokenizer.json.
 */

/** A Split/Replace pattern: a literal string or an (Oniguruma-syntax) regex. */
export type HfPattern = { String: string } | { Regex: string };

/** A normalizer entry. */
export type HfNormalizer =
  | { type: 'Sequence'; normalizers: HfNormalizer[] }
  | { type: 'Prepend'; prepend: string }
  | { type: 'Replace'; pattern: HfPattern; content: string }
  | { type: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' | 'Lowercase' }
  | { type: string; [key: string]: unknown };

/** A pre-tokenizer entry. */
export type HfPreTokenizer =
  | { type: 'Sequence'; pretokenizers: HfPreTokenizer[] }
  | { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean }
  | { type: 'Split'; pattern: HfPattern; behavior: string; invert: boolean }
  | { type: 'Digits'; individual_digits: boolean }
  | { type: 'Punctuation'; behavior: string }
  | { type: string; [key: string]: unknown };

/** A BPE model section. */
export interface HfBpeModel {
  type: 'BPE';
  dropout: null;
  unk_token: string | null;
  continuing_subword_prefix: null;
  end_of_word_suffix: null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges: boolean;
  /** token string -> id (a null-prototype object so that keys like "__proto__" are safe). */
  vocab: Record<string, number>;
  /** Merge rules in priority order, as [left, right] pairs. */
  merges: [string, string][];
}

/** One `added_tokens` entry. */
export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A TemplateProcessing item. */
export type HfTemplateItem = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

/** A whole tokenizer.json document (post-processor and decoder kept loosely typed). */
export interface HfTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: HfNormalizer | null;
  pre_tokenizer: HfPreTokenizer | null;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown> | null;
  model: HfBpeModel | { type: string; [key: string]: unknown };
}
