/**
 * The error type of model downloads: a one-line message saying what is missing or failed.
 */

/** A pull failed for a reason the user can act on (no pip, offline, bad checksum, ...). */
export class PullError extends Error {
  override readonly name = 'PullError';
}
