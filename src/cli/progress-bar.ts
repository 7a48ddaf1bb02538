/**
 * A one-line progress bar on stderr (redrawn in place on a terminal, a few plain lines otherwise).
 */

function mb(n: number): string {
  return `${(n / 1048576).toFixed(1)} MB`;
}

/** A progress bar for byte counts. */
export class ProgressBar {
  private lastDraw = 0;
  private lastPct = -1;
  private label = '';
  private readonly tty: boolean;

  /** @param stream where to draw (default stderr). */
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = !!stream.isTTY;
  }

  /** Updates the bar: `label` (phase), bytes `done` of `total` (0: unknown). */
  update(label: string, done: number, total: number): void {
    const now = Date.now();
    const pct = total > 0 ? Math.floor((100 * done) / total) : -1;
    const newLabel = label !== this.label;
    if (!newLabel && now - this.lastDraw < 100 && done < total) return;
    if (!this.tty) {
      // plain output: one line per label and per 25%
      if (!newLabel && Math.floor(pct / 25) === Math.floor(this.lastPct / 25)) return;
    }
    this.lastDraw = now;
    this.lastPct = pct;
    if (newLabel && this.tty && this.label) this.stream.write('\n');
    this.label = label;
    const width = 30;
    const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : 0;
    const bar = total > 0 ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}% ` : '';
    const text = `${label} ${bar}${mb(done)}${total > 0 ? ` / ${mb(total)}` : ''}`;
    this.stream.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
  }

  /** Ends the bar line. */
  done(): void {
    if (this.tty && this.label) this.stream.write('\n');
    this.label = '';
  }
}
