import { GgufError } from '../gguf/errors';
import type { GgufMetadata } from '../gguf/metadata';
import type { HfAddedToken, HfTemplateItem } from './hf-tokenizer-json';
import { GgufTokenType } from './token-types';

/** The tokenizer fields of a GGUF file, read and length-checked. */
export interface GgufVocab {
  /** `tokenizer.ggml.model`, e.g. "gpt2" or "llama". */
  readonly model: string;
  /** `tokenizer.ggml.pre`, when present. */
  readonly pre: string | undefined;
  readonly tokens: readonly string[];
  /** One type per token (NORMAL when the file has no token_type array). */
  readonly types: readonly number[];
  /** One score per token, when the file has them (SPM). */
  readonly scores: readonly number[] | undefined;
  /** Raw "left right" merge strings (BPE). */
  readonly merges: readonly string[] | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly addBos: boolean | undefined;
  readonly addEos: boolean | undefined;
  readonly addSpacePrefix: boolean | undefined;
}

/** Reads the `tokenizer.ggml.*` keys from GGUF metadata. @throws {GgufError} when they are missing or inconsistent. */
export function readGgufVocab(md: GgufMetadata): GgufVocab {
  const model = md.getString('tokenizer.ggml.model');
  const tokens = md.getStringArray('tokenizer.ggml.tokens');
  const n = tokens.length;
  const types = md.has('tokenizer.ggml.token_type') ? md.getNumberArray('tokenizer.ggml.token_type') : new Array<number>(n).fill(GgufTokenType.NORMAL);
  const scores = md.has('tokenizer.ggml.scores') ? md.getNumberArray('tokenizer.ggml.scores') : undefined;
  if (types.length !== n) throw new GgufError(`tokenizer.ggml.token_type has ${types.length} entries for ${n} tokens`);
  if (scores && scores.length !== n) throw new GgufError(`tokenizer.ggml.scores has ${scores.length} entries for ${n} tokens`);
  const id = (key: string): number | undefined => {
    const v = md.getIntegerOr(key, undefined);
    if (v === undefined) return undefined;
    if (v < 0 || v >= n) return undefined; // llama.cpp also treats out-of-range ids (e.g. -1) as "none"
    return v;
  };
  return {
    model,
    pre: md.getStringOr('tokenizer.ggml.pre', undefined),
    tokens,
    types,
    scores,
    merges: md.has('tokenizer.ggml.merges') ? md.getStringArray('tokenizer.ggml.merges') : undefined,
    bosId: id('tokenizer.ggml.bos_token_id'),
    eosId: id('tokenizer.ggml.eos_token_id'),
    unkId: id('tokenizer.ggml.unknown_token_id'),
    addBos: md.getBoolOr('tokenizer.ggml.add_bos_token', undefined),
    addEos: md.getBoolOr('tokenizer.ggml.add_eos_token', undefined),
    addSpacePrefix: md.getBoolOr('tokenizer.ggml.add_space_prefix', undefined),
  };
}

/** A null-prototype token -> id map; the first id wins for duplicated strings. */
export function buildVocabObject(tokens: readonly string[]): Record<string, number> {
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  for (let i = 0; i < tokens.length; i++) {
    if (!(tokens[i] in vocab)) vocab[tokens[i]] = i;
  }
  return vocab;
}

/**
 * `added_tokens` entries: CONTROL tokens (special) and USER_DEFINED tokens (not special), both
 * matched against raw text, plus `extraSpecialIds` (e.g. an UNKNOWN-typed unk token).
 */
export function addedTokens(v: GgufVocab, extraSpecialIds: readonly number[] = []): HfAddedToken[] {
  const out: HfAddedToken[] = [];
  const extra = new Set(extraSpecialIds);
  for (let i = 0; i < v.tokens.length; i++) {
    const t = v.types[i];
    const special = t === GgufTokenType.CONTROL || extra.has(i);
    if (!special && t !== GgufTokenType.USER_DEFINED) continue;
    if (v.tokens[i].length === 0) continue;
    out.push({ id: i, content: v.tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  }
  return out;
}

/** A TemplateProcessing post-processor adding BOS/EOS as the GGUF metadata asks. */
export function templatePostProcessor(v: GgufVocab, addBosDefault: boolean): Record<string, unknown> {
  const addBos = (v.addBos ?? addBosDefault) && v.bosId !== undefined;
  const addEos = (v.addEos ?? false) && v.eosId !== undefined;
  const single: HfTemplateItem[] = [];
  const pair: HfTemplateItem[] = [];
  const specials: Record<string, { id: string; ids: number[]; tokens: string[] }> = {};
  const sp = (id: number, typeId: number): HfTemplateItem => {
    const content = v.tokens[id];
    specials[content] = { id: content, ids: [id], tokens: [content] };
    return { SpecialToken: { id: content, type_id: typeId } };
  };
  if (addBos && v.bosId !== undefined) single.push(sp(v.bosId, 0));
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos && v.eosId !== undefined) single.push(sp(v.eosId, 0));
  pair.push(...single);
  if (addBos && v.bosId !== undefined) pair.push(sp(v.bosId, 1));
  pair.push({ Sequence: { id: 'B', type_id: 1 } });
  if (addEos && v.eosId !== undefined) pair.push(sp(v.eosId, 1));
  return { type: 'TemplateProcessing', single, pair, special_tokens: specials };
}
