import type { HfNormalizer, HfPreTokenizer } from './hf-tokenizer-json';

/** GPT-2's pre-tokenization regex as the Rust `tokenizers` ByteLevel pre-tokenizer uses it. */
export const GPT2_SPLIT_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Llama-3 (tiktoken cl100k-style) regex: case-insensitive contractions, 1-3 digit groups. */
export const LLAMA3_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Qwen2 regex: as Llama-3 but every digit on its own. */
export const QWEN2_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** CJK ranges both DeepSeek tokenizers isolate. */
const DEEPSEEK_CJK = '[一-龥ࠀ-一가-퟿]+';

/**
 * DeepSeek-LLM's letter class (cased letters of many scripts), as in its tokenizer.json, written with
 * code-point escapes: several of its characters (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A) have
 * canonical singleton decompositions, so a literal copy could be silently changed by Unicode normalisation.
 */
const DEEPSEEK_LLM_LETTERS =
  '\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+';

/** Byte-level pre-tokenizer (GPT-2 regex inside unless `useRegex` is false). */
export function byteLevel(useRegex: boolean): HfPreTokenizer {
  return { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex };
}

/** Split pre-tokenizer isolating every match of `regex`. */
export function isolate(regex: string): HfPreTokenizer {
  return { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false };
}

/** Normalizer, pre-tokenizer and BPE options that reproduce one model family's HF tokenizer. */
export interface BpePreTokenizerConfig {
  readonly normalizer: HfNormalizer | null;
  readonly preTokenizer: HfPreTokenizer;
  /** HF BPE `ignore_merges` (whole pre-tokens found in the vocabulary are kept as is). */
  readonly ignoreMerges: boolean;
}

function seq(...p: HfPreTokenizer[]): HfPreTokenizer {
  return { type: 'Sequence', pretokenizers: p };
}

const GPT2: BpePreTokenizerConfig = { normalizer: null, preTokenizer: byteLevel(true), ignoreMerges: false };
const DIGITS_THEN_GPT2: BpePreTokenizerConfig = {
  normalizer: null,
  preTokenizer: seq({ type: 'Digits', individual_digits: true }, byteLevel(true)),
  ignoreMerges: false,
};
const LLAMA3: BpePreTokenizerConfig = { normalizer: null, preTokenizer: seq(isolate(LLAMA3_SPLIT_REGEX), byteLevel(false)), ignoreMerges: true };
const QWEN2: BpePreTokenizerConfig = { normalizer: { type: 'NFC' }, preTokenizer: seq(isolate(QWEN2_SPLIT_REGEX), byteLevel(false)), ignoreMerges: false };

const CONFIGS: Readonly<Record<string, BpePreTokenizerConfig>> = {
  'gpt-2': GPT2,
  gpt2: GPT2,
  default: GPT2,
  jais: GPT2,
  olmo: GPT2,
  mpt: { normalizer: { type: 'NFC' }, preTokenizer: byteLevel(true), ignoreMerges: false },
  starcoder: DIGITS_THEN_GPT2,
  refact: DIGITS_THEN_GPT2,
  smollm: DIGITS_THEN_GPT2,
  'command-r': { ...DIGITS_THEN_GPT2, normalizer: { type: 'NFC' } },
  codeshell: DIGITS_THEN_GPT2,
  falcon: {
    normalizer: null,
    preTokenizer: seq(
      { type: 'Punctuation', behavior: 'Contiguous' },
      byteLevel(true),
      { type: 'Digits', individual_digits: false },
      isolate('[0-9][0-9][0-9]'),
    ),
    ignoreMerges: false,
  },
  'deepseek-coder': {
    normalizer: null,
    preTokenizer: seq(
      isolate('[\r\n]'),
      isolate('\\s?\\p{L}+'),
      isolate('\\s?\\p{P}+'),
      isolate(DEEPSEEK_CJK),
      { type: 'Digits', individual_digits: true },
      byteLevel(false),
    ),
    ignoreMerges: false,
  },
  'deepseek-llm': {
    normalizer: null,
    preTokenizer: seq(
      isolate('[\r\n]'),
      isolate(DEEPSEEK_LLM_LETTERS),
      isolate('\\s?[!-/:-~！-／：-～‘-‟　-。]+'),
      isolate('\\s+$'),
      isolate(DEEPSEEK_CJK),
      { type: 'Digits', individual_digits: false },
      byteLevel(false),
    ),
    ignoreMerges: false,
  },
  'llama-bpe': LLAMA3,
  llama3: LLAMA3,
  dbrx: LLAMA3,
  'smaug-bpe': LLAMA3,
  qwen2: QWEN2,
  'deepseek-r1-qwen': QWEN2,
  'stablelm2': { ...QWEN2, normalizer: null },
};

/** `tokenizer.ggml.pre` values with a dedicated configuration. */
export const KNOWN_BPE_PRE_TOKENIZERS: readonly string[] = Object.keys(CONFIGS);

/**
 * The HF pre-tokenization for a `tokenizer.ggml.pre` value. Unknown or missing values get GPT-2's
 * byte-level regex (`known: false`).
 */
export function bpePreTokenizerConfig(pre: string | undefined): BpePreTokenizerConfig & { readonly known: boolean } {
  const c = pre === undefined ? undefined : CONFIGS[pre];
  return c ? { ...c, known: true } : { ...GPT2, known: false };
}
