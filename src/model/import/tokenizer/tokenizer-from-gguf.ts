import { GgufError } from '../gguf/errors';
import type { GgufMetadata } from '../gguf/metadata';
import { bpeTokenizerJson } from './bpe-from-gguf';
import { readGgufVocab } from './gguf-vocab';
import type { HfTokenizerJson } from './hf-tokenizer-json';
import { spmTokenizerJson } from './spm-from-gguf';

/** `tokenizer.ggml.model` values {@link tokenizerJsonFromGguf} can convert. */
export const SUPPORTED_GGUF_TOKENIZER_MODELS: readonly string[] = ['gpt2', 'llama'];

/**
 * Writes a Hugging Face tokenizer.json object from the tokenizer stored in GGUF metadata.
 * Supports byte-level BPE (`gpt2`, with the pre-tokenizer chosen by `tokenizer.ggml.pre`) and
 * SentencePiece (`llama`, as BPE with byte fallback). Load it with {@link loadTokenizer}.
 * @param gguf an opened GGUF file (anything with a `metadata` field) or its metadata.
 * @throws {GgufError} for other tokenizer models (e.g. bert/WPM, t5/UGM, rwkv) or missing fields.
 */
export function tokenizerJsonFromGguf(gguf: { readonly metadata: GgufMetadata } | GgufMetadata): HfTokenizerJson {
  const md = 'metadata' in gguf ? gguf.metadata : gguf;
  const v = readGgufVocab(md);
  switch (v.model) {
    case 'gpt2':
      return bpeTokenizerJson(v);
    case 'llama':
      return spmTokenizerJson(v);
    default:
      throw new GgufError(
        `unsupported GGUF tokenizer model "${v.model}" (supported: ${SUPPORTED_GGUF_TOKENIZER_MODELS.join(', ')}); ` +
          'provide a tokenizer.json next to the model instead',
      );
  }
}
