/**
 * Resumable results: one JSON line per finished item, appended as items finish, in a file whose first line
 * records the run's settings. A run with the same settings continues where the last one stopped; a torn last
 * line (an interrupted write) is dropped and rewritten; other settings are refused rather than mixed.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

import { EvalError } from './errors';

/** An append-only per-item result store. */
export class ResultCache<T extends { i: number }> {
  readonly file: string;
  readonly done = new Map<number, T>();
  #fd: number;

  /**
   * Opens (or creates) `file` for a run with `settings` (compared as JSON).
   * @throws EvalError `EVAL_CACHE_MISMATCH` when the file holds a run with other settings.
   */
  constructor(file: string, settings: object) {
    this.file = file;
    mkdirSync(dirname(file), { recursive: true });
    const head = JSON.stringify({ settings });
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n');
      if (lines[0] !== head) {
        throw new EvalError('EVAL_CACHE_MISMATCH', `${file} holds results of other settings; delete it or choose another --out (its settings: ${lines[0].slice(0, 200)})`);
      }
      let goodBytes = Buffer.byteLength(lines[0]) + 1;
      for (let k = 1; k < lines.length; k++) {
        const line = lines[k];
        if (line === '') continue;
        let rec: T;
        try {
          rec = JSON.parse(line) as T;
        } catch {
          break; // a torn write: everything from here on is redone
        }
        if (k === lines.length - 1) break; // no newline after it: may be torn
        this.done.set(rec.i, rec);
        goodBytes += Buffer.byteLength(line) + 1;
      }
      truncateSync(file, goodBytes);
      this.#fd = openSync(file, 'a');
    } else {
      this.#fd = openSync(file, 'a');
      writeSync(this.#fd, head + '\n');
    }
  }

  /** Records finished items (one line each; flushed to disk). */
  add(records: readonly T[]): void {
    if (records.length === 0) return;
    writeSync(this.#fd, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    fsyncSync(this.#fd);
    for (const r of records) this.done.set(r.i, r);
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.#fd);
  }
}
