/**
 * The error type of checkpoint conversion: a user-facing message (bad input, unsupported model).
 */

/** A conversion failed for a reason the user can act on (message is one clear line). */
export class ConvertError extends Error {
  override readonly name = 'ConvertError';
}
