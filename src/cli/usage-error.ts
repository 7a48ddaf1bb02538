/**
 * A mistake in the command line (unknown option, missing argument): printed as one line with a
 * hint, exit code 1.
 */

/** A command-line mistake. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
