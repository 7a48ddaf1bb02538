/**
 * Error raised for malformed, truncated or unsupported GGUF files.
 * The message always says what was being read and, where known, at which byte offset.
 */
export class GgufError extends Error {
  /** @param message human-readable description of the problem. */
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}
