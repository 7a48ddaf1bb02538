/**
 * The error type of checkpoint conversion: a user-facing message (bad input, unsupported model).
 */

/** A conversion failed for a reason the user can act on (message is one clear line). */
import { AutocontrastError } from '../../errors';

export class ConvertError extends AutocontrastError {
  /** @param message one clear line. */
  constructor(message: string, options?: { cause?: unknown }) {
    super('AC_CONVERT', message, options);
    this.name = 'ConvertError';
  }
}
