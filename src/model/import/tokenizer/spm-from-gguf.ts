import { GgufError } from '../gguf/errors';
import type { GgufVocab } from './gguf-vocab';
import { addedTokens, buildVocabObject, templatePostProcessor } from './gguf-vocab';
import type { HfTokenizerJson } from './hf-tokenizer-json';
import { GgufTokenType } from './token-types';

/** SentencePiece's word-boundary marker (U+2581), which stands for a space. */
export const SPM_SPACE = '\u2581';

/**
 * Derives BPE merges from a SentencePiece vocabulary with scores, as Hugging Face does when it
 * converts a Llama tokenizer: every NORMAL piece that splits into two NORMAL pieces yields a merge
 * (left, right); merges are ordered by the merged piece's score (highest first), ties by the merged
 * piece's id, then left id, then right id.
 */
export function spmMergesFromScores(tokens: readonly string[], types: readonly number[], scores: readonly number[]): [string, string][] {
  const normal = new Map<string, number>();
  for (let i = 0; i < tokens.length; i++) {
    if (types[i] === GgufTokenType.NORMAL && !normal.has(tokens[i])) normal.set(tokens[i], i);
  }
  interface Cand {
    l: string;
    r: string;
    score: number;
    id: number;
    lid: number;
    rid: number;
  }
  const cands: Cand[] = [];
  for (const [piece, id] of normal) {
    const cps = Array.from(piece);
    if (cps.length < 2) continue;
    let left = '';
    for (let k = 1; k < cps.length; k++) {
      left += cps[k - 1];
      const right = piece.slice(left.length);
      const lid = normal.get(left);
      const rid = normal.get(right);
      if (lid !== undefined && rid !== undefined) cands.push({ l: left, r: right, score: scores[id], id, lid, rid });
    }
  }
  cands.sort((a, b) => b.score - a.score || a.id - b.id || a.lid - b.lid || a.rid - b.rid);
  return cands.map((c) => [c.l, c.r]);
}

/**
 * A tokenizer.json for a SentencePiece (`tokenizer.ggml.model = llama`) vocabulary in the form HF
 * uses for Llama: a BPE model with byte fallback (<0xNN> tokens) and merges derived from the scores,
 * a normalizer that prepends "▁" (unless `tokenizer.ggml.add_space_prefix` is false) and replaces
 * spaces by "▁", and the matching decoder.
 */
export function spmTokenizerJson(v: GgufVocab): HfTokenizerJson {
  if (!v.scores) throw new GgufError('SPM tokenizer: GGUF metadata has no tokenizer.ggml.scores');
  const vocab = buildVocabObject(v.tokens);
  let unkId = v.unkId;
  if (unkId === undefined) {
    const i = v.types.indexOf(GgufTokenType.UNKNOWN);
    if (i >= 0) unkId = i;
  }
  const addPrefix = v.addSpacePrefix ?? true;
  const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: SPM_SPACE };
  const decoders: Record<string, unknown>[] = [
    { type: 'Replace', pattern: { String: SPM_SPACE }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (addPrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(v, unkId !== undefined ? [unkId] : []),
    normalizer: addPrefix
      ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPM_SPACE }, replaceSpaces] }
      : replaceSpaces,
    pre_tokenizer: null,
    post_processor: templatePostProcessor(v, true),
    decoder: { type: 'Sequence', decoders },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unkId !== undefined ? v.tokens[unkId] : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: spmMergesFromScores(v.tokens, v.types, v.scores),
    },
  };
}
