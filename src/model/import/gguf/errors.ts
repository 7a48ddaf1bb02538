/**
 * Error raised for malformed, truncated or unsupported GGUF files.
 * The message always says what was being read and, where known, at which byte offset.
 */
import { AutocontrastError } from '../../../errors';

/** A GGUF file this reader cannot read (malformed, truncated, unsupported). */
export class GgufError extends AutocontrastError {
  /** @param message human-readable description of the problem. */
  constructor(message: string) {
    super('AC_GGUF', message);
    this.name = 'GgufError';
  }
}
