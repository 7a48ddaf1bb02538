/**
 * Progress with an ETA on stderr: redrawn in place on a terminal, a line every ~10% otherwise.
 */

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

/** A progress line for `total` items, of which `start` were done before (a resumed run). */
export class EvalProgress {
  #t0 = Date.now();
  #last = 0;
  #lastDecile = -1;
  #tty: boolean;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly start = 0,
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    private readonly enabled = true,
  ) {
    this.#tty = !!stream.isTTY;
  }

  /** `done` items finished in all (including the resumed ones). */
  update(done: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    const pct = this.total ? Math.floor((100 * done) / this.total) : 100;
    if (this.#tty ? now - this.#last < 200 && done < this.total : Math.floor(pct / 10) === this.#lastDecile) return;
    this.#last = now;
    this.#lastDecile = Math.floor(pct / 10);
    const rate = (done - this.start) / ((now - this.#t0) / 1000);
    const eta = rate > 0 ? (this.total - done) / rate : NaN;
    const width = 24;
    const filled = this.total ? Math.max(0, Math.min(width, Math.round((width * done) / this.total))) : width;
    const text = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ${pct}% ` +
      `${rate > 0 ? `${rate.toFixed(2)}/s ` : ''}ETA ${formatDuration(eta)}`;
    this.stream.write(this.#tty ? `\r${text}\x1b[K` : `${text}\n`);
  }

  /** Ends the line. */
  done(): void {
    if (this.enabled && this.#tty) this.stream.write('\n');
  }
}
