import { GPT2_SPLIT_REGEX } from './pre-tokenizer-configs';

/** Unicode + ASCII punctuation, as Rust `tokenizers` tests it (char::is_ascii_punctuation or category P). */
const PUNCTUATION_CLASS = '[\\p{P}!-/:-@\\[-`{-~]';

type Json = Record<string, unknown>;

/**
 * Rewrites pre-tokenizers of a tokenizer.json whose @huggingface/tokenizers 0.2.0 implementation
 * differs from the Rust `tokenizers` crate, into equivalent `Split` pre-tokenizers (whose regexes the
 * JS library translates with Oniguruma semantics). Returns a new object; the input is not modified.
 *
 * - `Digits`: the JS version matches `\d` (ASCII 0-9 only); Rust splits on `char::is_numeric`, i.e.
 *   Unicode category N (so "½", "²", "٣" are digits too). Replaced by `Split(\p{N})` (or `\p{N}+`
 *   when `individual_digits` is false), behaviour Isolated.
 * - `ByteLevel` with `use_regex` (and no prefix space): the JS version applies GPT-2's regex with JS
 *   `\s` (which wrongly includes U+FEFF and misses U+0085). Replaced by a `Split` with the same regex
 *   (translated with Unicode White_Space) followed by `ByteLevel` without regex.
 * - `Punctuation`: the JS version always merges runs of punctuation ("Contiguous"); Rust's default
 *   behaviour is "Isolated". Replaced by a `Split` honouring the configured behaviour.
 */
export function adaptTokenizerJsonForJs<T extends object>(json: T): T {
  const j = json as unknown as Json;
  if (!j.pre_tokenizer || typeof j.pre_tokenizer !== 'object') return json;
  return { ...j, pre_tokenizer: adaptPreTokenizer(j.pre_tokenizer as Json) } as unknown as T;
}

function split(regex: string): Json {
  return { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false };
}

function adaptPreTokenizer(p: Json): Json {
  switch (p.type) {
    case 'Sequence': {
      const list = Array.isArray(p.pretokenizers) ? (p.pretokenizers as Json[]) : [];
      const out: Json[] = [];
      for (const q of list) {
        const r = adaptPreTokenizer(q);
        if (r.type === 'Sequence' && r !== q && Array.isArray(r.pretokenizers)) out.push(...(r.pretokenizers as Json[]));
        else out.push(r);
      }
      return { ...p, pretokenizers: out };
    }
    case 'Digits':
      return split(p.individual_digits === true ? '\\p{N}' : '\\p{N}+');
    case 'ByteLevel': {
      const useRegex = p.use_regex ?? true;
      if (useRegex !== true || p.add_prefix_space === true) return p;
      return { type: 'Sequence', pretokenizers: [split(GPT2_SPLIT_REGEX), { ...p, use_regex: false }] };
    }
    case 'Punctuation': {
      const behavior = typeof p.behavior === 'string' ? p.behavior.toLowerCase() : 'isolated';
      if (behavior === 'contiguous') return split(`${PUNCTUATION_CLASS}+`);
      if (behavior === 'isolated') return split(PUNCTUATION_CLASS);
      return p;
    }
    default:
      return p;
  }
}
