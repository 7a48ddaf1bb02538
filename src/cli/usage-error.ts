/**
 * A mistake in the command line (unknown option, bad value, missing argument): printed as one line with a
 * hint, exit code 1.
 */
import { AutocontrastError } from '../errors';

/** A command-line mistake (code `AC_USAGE`). */
export class UsageError extends AutocontrastError {
  /** @param message names the flag, what was expected and what was given. */
  constructor(message: string) {
    super('AC_USAGE', message);
    this.name = 'UsageError';
  }
}
