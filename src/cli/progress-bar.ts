/**
 * Progress on stderr: on a terminal one line redrawn in place (bar, percentage, bytes, rate, ETA); otherwise
 * plain lines, one when a phase starts, at each quarter and at its end, so logs stay short.
 */

/** What one progress line shows. */
export interface ProgressState {
  /** The phase ("downloading x", "converting"). */
  readonly label: string;
  /** Bytes done. */
  readonly done: number;
  /** Bytes in all; 0 when unknown (no bar, percentage or ETA then). */
  readonly total: number;
  /** Milliseconds since the phase started (for the rate and the ETA). */
  readonly elapsedMs: number;
}

/** Megabytes (MiB) with one decimal, no unit. */
function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

/** `m:ss` (or `h:mm:ss`) of a duration in seconds. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/** Rate and ETA need this much history to mean anything. */
const MIN_ELAPSED_MS = 500;

/**
 * One progress line (no control characters): `label [####------]  40% 12.0 / 30.0 MB, 4.0 MB/s, ETA 0:05`.
 * The percentage is floored (100% only when done), the bar `width` characters wide; rate and ETA appear once
 * half a second has passed and bytes have moved.
 */
export function renderProgress(s: ProgressState, width = 24): string {
  const known = s.total > 0;
  const done = known ? Math.min(s.done, s.total) : s.done;
  const parts: string[] = [s.label];
  if (known) {
    const frac = done / s.total;
    const filled = Math.floor(width * frac);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`, `${String(Math.floor(100 * frac)).padStart(3)}%`);
  }
  let text = `${parts.join(' ')} ${mb(done)}${known ? ` / ${mb(s.total)}` : ''} MB`;
  if (s.elapsedMs >= MIN_ELAPSED_MS && done > 0) {
    const rate = done / (s.elapsedMs / 1000);
    text += `, ${mb(rate)} MB/s`;
    if (known && done < s.total) text += `, ETA ${clock((s.total - done) / rate)}`;
  }
  return text;
}

/** Where a bar draws: a stream with an optional `isTTY`. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** A progress display for byte counts, phase by phase. */
export class ProgressBar {
  private label = '';
  private start = 0;
  private lastDraw = 0;
  private lastQuarter = -1;
  private lastText = '';
  private readonly tty: boolean;

  /**
   * @param stream where to draw (default stderr); a terminal gets the redrawn line.
   * @param now clock in milliseconds (tests pass their own).
   */
  constructor(private readonly stream: ProgressStream = process.stderr, private readonly now: () => number = Date.now) {
    this.tty = !!stream.isTTY;
  }

  /** Updates the display: phase `label`, bytes `done` of `total` (0: unknown). A new label starts a new phase. */
  update(label: string, done: number, total: number): void {
    const t = this.now();
    if (label !== this.label) {
      this.done();
      this.label = label;
      this.start = t;
      this.lastDraw = -Infinity;
      this.lastQuarter = -1;
    }
    const text = renderProgress({ label, done, total, elapsedMs: t - this.start });
    const finished = total > 0 && done >= total;
    if (this.tty) {
      // Redraw at most 10 times a second, but always the first and the final state.
      if (!finished && t - this.lastDraw < 100 && this.lastDraw !== -Infinity) return;
      this.lastDraw = t;
      if (text !== this.lastText) this.stream.write(`\r${text}\x1b[K`);
      this.lastText = text;
      return;
    }
    const quarter = total > 0 ? Math.floor((4 * Math.min(done, total)) / total) : 0;
    if (quarter === this.lastQuarter) return;
    this.lastQuarter = quarter;
    this.stream.write(`${text}\n`);
  }

  /** Ends the current phase's line (on a terminal). */
  done(): void {
    if (this.tty && this.lastText) this.stream.write('\n');
    this.label = '';
    this.lastText = '';
  }
}
