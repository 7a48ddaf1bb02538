/**
 * The error type of model downloads: a one-line message saying what is missing or failed.
 */

/** A pull failed for a reason the user can act on (no pip, offline, bad checksum, ...). */
import { AutocontrastError } from '../../errors';

export class PullError extends AutocontrastError {
  /** @param message one clear line. */
  constructor(message: string, options?: { cause?: unknown }) {
    super('AC_PULL', message, options);
    this.name = 'PullError';
  }
}
