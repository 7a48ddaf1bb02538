/**
 * Refusing the evaluation sets as fitting data. The library's evaluations (LAMBADA, the WikiText test split,
 * the open-ended generation prompts of ../shared/data) would be meaningless on exits fitted to them, so a data
 * file is refused when its contents (line endings normalised) are one of those files, or when any of its text
 * units (lines of a text file; the strings of a JSON / JSONL record) is one of a sample of each set's units.
 * The hashes are derived from the files themselves by scripts/eval-set-hashes.mjs (see src/train/README.md).
 */
import { createHash } from 'node:crypto';
import { EVAL_FILE_HASHES, EVAL_UNIT_HASHES } from './eval-set-hashes';

/** Units shorter than this are not compared (short lines such as headings recur everywhere). */
export const MIN_UNIT_CHARS = 40;

/** Whitespace collapsed and trimmed, the form units are compared in. */
export function normaliseUnit(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** The first 16 hex digits of the SHA-256 of a normalised unit. */
export function unitHash(s: string): string {
  return createHash('sha256').update(normaliseUnit(s), 'utf8').digest('hex').slice(0, 16);
}

/** SHA-256 of a file's text with CRLF line endings turned into LF. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n'), 'utf8').digest('hex');
}

function strings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
}

/**
 * The comparable units of a file's text: for `.json`, every string inside; for `.jsonl`, every string of every
 * record (a line that is not JSON counts as text); otherwise every line. Units shorter than
 * {@link MIN_UNIT_CHARS} after normalisation are left out.
 */
export function textUnits(name: string, text: string): string[] {
  const out: string[] = [];
  if (/\.json$/i.test(name)) {
    try {
      strings(JSON.parse(text), out);
    } catch {
      out.push(...text.split('\n'));
    }
  } else if (/\.jsonl$/i.test(name)) {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        strings(JSON.parse(line), out);
      } catch {
        out.push(line);
      }
    }
  } else {
    out.push(...text.split('\n'));
  }
  return out.map(normaliseUnit).filter((u) => u.length >= MIN_UNIT_CHARS);
}

/** Which evaluation set a file's text belongs to, or null. */
export function matchEvaluationSet(name: string, text: string): string | null {
  const whole = EVAL_FILE_HASHES[contentHash(text)];
  if (whole) return whole;
  for (const u of textUnits(name, text)) {
    const hit = EVAL_UNIT_HASHES.get(unitHash(u));
    if (hit) return hit;
  }
  return null;
}
