/**
 * Reading the evaluation data sets, with errors that name the file and the line: LAMBADA (JSON Lines of
 * `{"text"}`), WikiText raw test text (split into articles), and the open-ended prompts of Li et al.'s
 * benchmark (prompt/reference splits as JSON arrays of `{"prefix_text", "reference_text"}`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { EvalError } from './errors';

/** The default data folder: `$AUTOCONTRAST_DATA` (or `$AUTOCONTRAST_SHARED_DATA`, as the tests use), else `../shared/data` beside the working directory. */
export function defaultDataDir(): string {
  const env = process.env.AUTOCONTRAST_DATA ?? process.env.AUTOCONTRAST_SHARED_DATA;
  return env ? resolve(env) : resolve('..', 'shared', 'data');
}

/** Default file of each task inside the data folder. */
export const DATA_FILES = {
  lambada: join('lambada', 'lambada_test.jsonl'),
  wikitext: join('wikitext', 'wiki.test.raw'),
  'open-ended': join('open_ended', 'momentum_decoding_splits'),
} as const;

function readText(file: string, what: string): string {
  if (!existsSync(file)) throw new EvalError('EVAL_DATA_MISSING', `${what} not found at ${file} (give --data FILE, or set AUTOCONTRAST_DATA to the shared data folder)`);
  if (!statSync(file).isFile()) throw new EvalError('EVAL_DATA_MISSING', `${what}: ${file} is not a file`);
  return readFileSync(file, 'utf8');
}

/** LAMBADA passages from a JSON Lines file of `{"text": string}` (blank lines skipped). */
export function readLambada(file: string): string[] {
  const lines = readText(file, 'LAMBADA data').split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new EvalError('EVAL_DATA_MALFORMED', `${file}:${i + 1}: not a JSON object (expected {"text": "..."} per line)`);
    }
    const text = (v as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') throw new EvalError('EVAL_DATA_MALFORMED', `${file}:${i + 1}: expected {"text": string}`);
    if (!text.includes(' ')) throw new EvalError('EVAL_DATA_MALFORMED', `${file}:${i + 1}: a passage needs a space before its last word`);
    out.push(text);
  });
  if (out.length === 0) throw new EvalError('EVAL_DATA_MALFORMED', `${file}: no passages`);
  return out;
}

/**
 * WikiText articles from the raw test file: an article starts at a top-level heading line (` = Title = `;
 * section headings have two or more `=`), and holds its lines verbatim up to the next one, as the document-level
 * split the harness's `wikitext` task reads.
 */
export function readWikitext(file: string): string[] {
  const raw = readText(file, 'WikiText data');
  return splitWikitextArticles(raw, file);
}

/** Splits raw WikiText into articles (see {@link readWikitext}). */
export function splitWikitextArticles(raw: string, file = 'input'): string[] {
  const lines = raw.split(/(?<=\n)/);
  const docs: string[] = [];
  let cur: string[] | null = null;
  const heading = /^ = [^=](.*[^=])? = \n?$/;
  for (const line of lines) {
    if (heading.test(line)) {
      if (cur) docs.push(cur.join(''));
      cur = [];
    }
    if (cur) cur.push(line);
  }
  if (cur) docs.push(cur.join(''));
  const real = docs.filter((d) => d.trim() !== '');
  if (real.length === 0) throw new EvalError('EVAL_DATA_MALFORMED', `${file}: no article heading (" = Title = ") found`);
  return real;
}

/** One open-ended prompt and its gold continuation. */
export interface OpenEndedPrompt {
  prompt: string;
  reference: string;
}

/** Benchmarks of Li et al. (file stem in `momentum_decoding_splits/`). */
export const OPEN_ENDED_SETS = { wikitext: 'wikitext_greedy_result.json', wikinews: 'wikinews_greedy_result.json', book: 'story_greedy_result.json' } as const;

/**
 * Prompts of an open-ended benchmark: the `prefix_text` (the first 32 GPT-2 tokens of the ASCII-filtered
 * document, Li et al.'s rule) and `reference_text` of each record of a JSON array. WikiText prompts lose their
 * leading `<|endoftext|> ` (a GPT-2 control token, not text).
 */
export function readOpenEnded(file: string): OpenEndedPrompt[] {
  const text = readText(file, 'open-ended prompts');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new EvalError('EVAL_DATA_MALFORMED', `${file}: not JSON (expected an array of {"prefix_text", "reference_text"})`);
  }
  if (!Array.isArray(v)) throw new EvalError('EVAL_DATA_MALFORMED', `${file}: expected a JSON array of {"prefix_text", "reference_text"}`);
  return v.map((r, i) => {
    const p = (r as { prefix_text?: unknown }).prefix_text;
    const ref = (r as { reference_text?: unknown }).reference_text;
    if (typeof p !== 'string' || typeof ref !== 'string') throw new EvalError('EVAL_DATA_MALFORMED', `${file}: record ${i} lacks string prefix_text / reference_text`);
    return { prompt: p.replace(/^<\|endoftext\|> ?/, ''), reference: ref };
  });
}
