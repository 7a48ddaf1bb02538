import { Tokenizer } from '@huggingface/tokenizers';
import { adaptTokenizerJsonForJs } from './js-compat';

/** Options of {@link LoadedTokenizer.encode}. */
export interface EncodeOptions {
  /** Add the post-processor's special tokens (e.g. BOS). Default true, as in Hugging Face. */
  readonly addSpecialTokens?: boolean;
}

/** Options of {@link LoadedTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens from the output. Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /**
   * Rewrite pre-tokenizers whose JS implementation differs from the Rust reference (see
   * {@link adaptTokenizerJsonForJs}). Default true.
   */
  readonly adaptForJs?: boolean;
  /** tokenizer_config.json-style settings passed to @huggingface/tokenizers (default: no clean-up of spaces). */
  readonly config?: Record<string, unknown>;
}

/** A ready tokenizer: text to ids and back. */
export interface LoadedTokenizer {
  /** Token ids of `text`. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Text of `ids` (an empty list gives ""). */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** Id of a token string, or undefined. */
  tokenToId(token: string): number | undefined;
  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined;
  /** Number of ids (highest id + 1, added tokens included). */
  readonly vocabSize: number;
  /**
   * The underlying @huggingface/tokenizers `Tokenizer`. Typed as `object` so that these declarations do not load
   * that package's types (ESM-only, and they need the DOM lib), which would break consumers compiling with
   * `skipLibCheck: false` under CommonJS `node16` or `bundler` without DOM; cast it to use its API.
   */
  readonly inner: object;
}

/**
 * Loads a tokenizer.json object (parsed JSON, e.g. from {@link tokenizerJsonFromGguf} or a model
 * folder) with @huggingface/tokenizers, after the JS-compatibility rewrite unless disabled.
 */
export function loadTokenizer(json: object, options: LoadTokenizerOptions = {}): LoadedTokenizer {
  const doc = options.adaptForJs === false ? json : adaptTokenizerJsonForJs(json);
  const inner = new Tokenizer(doc, { clean_up_tokenization_spaces: false, ...(options.config ?? {}) });
  let vocabSize = 0;
  for (const id of inner.get_vocab(true).values()) if (id + 1 > vocabSize) vocabSize = id + 1;
  return {
    inner,
    vocabSize,
    encode(text: string, o: EncodeOptions = {}): number[] {
      return inner.encode(text, { add_special_tokens: o.addSpecialTokens ?? true }).ids;
    },
    decode(ids: ArrayLike<number>, o: DecodeOptions = {}): string {
      if (ids.length === 0) return '';
      return inner.decode(Array.from(ids), { skip_special_tokens: o.skipSpecialTokens ?? false });
    },
    tokenToId: (token: string) => inner.token_to_id(token),
    idToToken: (id: number) => inner.id_to_token(id),
  };
}
