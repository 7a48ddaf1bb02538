/**
 * Fitting data: the user's text / JSONL files, or text the model samples itself (self-distillation), tokenised
 * into one stream, cut into chunks of `seqLen` tokens and split into training and validation chunks with a seeded
 * shuffle. Documents are joined by a blank line.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mulberry32 } from '../model/graph/random-weights';
import { matchEvaluationSet } from './eval-guard';
import { FitError } from './fit-error';

/** Tokenised, chunked data. */
export interface FitData {
  /** Training chunks (`seqLen` token ids each), in training order. */
  readonly train: Int32Array[];
  /** Held-out chunks. */
  readonly validation: Int32Array[];
  /** SHA-256 of the data (file contents in order, or the sampled token ids). */
  readonly hash: string;
  /** Tokens in all chunks. */
  readonly tokens: number;
  /** Where the text came from. */
  readonly source: 'files' | 'self-distillation';
}

/** Anything that turns text into token ids. */
export interface TextEncoder {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
}

/** The documents of one data file: JSONL records' `text` field (else their first string field), or the whole text. */
export function documentsOf(file: string, text: string): string[] {
  if (!/\.jsonl$/i.test(file)) return [text];
  const docs: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new FitError('E_FIT_DATA_FILE', `${file}: line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    const o = rec as Record<string, unknown>;
    const t = typeof rec === 'string' ? rec : typeof o?.text === 'string' ? o.text : Object.values(o ?? {}).find((v) => typeof v === 'string');
    if (typeof t !== 'string') throw new FitError('E_FIT_DATA_FILE', `${file}: line ${i + 1} has no text field`);
    docs.push(t);
  });
  return docs;
}

/** Reads data files, refusing evaluation sets; returns their documents and the hash of their contents. */
export function readDataFiles(files: readonly string[]): { docs: string[]; hash: string } {
  const h = createHash('sha256');
  const docs: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new FitError('E_FIT_DATA_FILE', `--data ${f}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const ev = matchEvaluationSet(f, text);
    if (ev) throw new FitError('E_FIT_EVAL_SET', `--data ${f}: this is (part of) the evaluation set ${ev}; fitting on an evaluation set would make its scores meaningless`);
    h.update(text);
    docs.push(...documentsOf(f, text));
  }
  return { docs, hash: h.digest('hex') };
}

/**
 * Token stream of documents joined by a blank line (the tokenizer's special tokens are not added), stopping once
 * `limit` tokens are there.
 */
export function tokenise(docs: readonly string[], tok: TextEncoder, limit = Infinity): number[] {
  const sep = tok.encode('\n\n', { addSpecialTokens: false });
  const out: number[] = [];
  for (let i = 0; i < docs.length && out.length < limit; i++) {
    if (i > 0) out.push(...sep);
    for (const t of tok.encode(docs[i], { addSpecialTokens: false })) out.push(t);
  }
  return out;
}

/** Options of {@link chunkTokens}. */
export interface ChunkOptions {
  /** Tokens per chunk. */
  readonly seqLen: number;
  /** Share of chunks held out (at least one chunk). */
  readonly validationFraction: number;
  /** Shuffle seed. */
  readonly seed: number;
  /** At most this many tokens are used (whole chunks; default all). */
  readonly maxTokens?: number;
}

/**
 * Cuts a token stream into `seqLen` chunks (the tail shorter than a chunk is dropped), shuffles them with `seed`
 * and holds out a share for validation.
 * @throws {FitError} E_FIT_DATA_SHORT when there are fewer than two chunks.
 */
export function chunkTokens(tokens: ArrayLike<number>, o: ChunkOptions, hash: string, source: FitData['source']): FitData {
  let n = Math.floor(tokens.length / o.seqLen);
  if (o.maxTokens !== undefined) n = Math.min(n, Math.floor(o.maxTokens / o.seqLen));
  if (n < 2) {
    throw new FitError(
      'E_FIT_DATA_SHORT',
      `the data has ${tokens.length} tokens${o.maxTokens !== undefined ? ` (at most ${o.maxTokens} used)` : ''}: at least two chunks of --seq-len ${o.seqLen} are needed (one to fit, one to validate)`,
    );
  }
  const chunks: Int32Array[] = [];
  for (let i = 0; i < n; i++) chunks.push(Int32Array.from({ length: o.seqLen }, (_, j) => tokens[i * o.seqLen + j]));
  const rand = mulberry32(o.seed >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [chunks[i], chunks[j]] = [chunks[j], chunks[i]];
  }
  const nVal = Math.min(n - 1, Math.max(1, Math.round(n * o.validationFraction)));
  return { validation: chunks.slice(0, nVal), train: chunks.slice(nVal), hash, tokens: n * o.seqLen, source };
}

/** Varied openings the model continues when it samples its own fitting data. */
export const SELF_DISTILLATION_PROMPTS: readonly string[] = [
  'The history of the city begins',
  'In this tutorial, we will learn how to',
  'Once upon a time, in a small village,',
  'The results of the experiment showed that',
  'Dear friends, I am writing to tell you',
  'The main causes of the war were',
  'Here is a recipe for a simple dinner:',
  'Scientists have discovered a new species of',
  'The following is an interview with',
  'In mathematics, a prime number is',
  'The company announced on Monday that',
  'My favourite place to spend the summer is',
  'The rules of the game are simple:',
  'A brief introduction to the human immune system:',
  'The novel tells the story of',
  'To install the software, first',
  'The weather forecast for the weekend',
  'Chapter 1. The journey started when',
  'The court ruled that the law',
  'Photosynthesis is the process by which',
  'The best way to learn a new language is',
  'After the match, the coach said',
  'The museum\'s new exhibition features',
  'Economists expect inflation to',
];
