/**
 * Progress events of pulls (download, extraction, conversion).
 */

/** One progress update. `total` is 0 when unknown. */
export interface PullProgress {
  /** What is happening. */
  readonly phase: 'download' | 'extract' | 'convert';
  /** The file concerned, when any. */
  readonly file?: string;
  /** Bytes done. */
  readonly done: number;
  /** Bytes in all (0: unknown). */
  readonly total: number;
}

/** A progress listener. */
export type PullProgressListener = (p: PullProgress) => void;
