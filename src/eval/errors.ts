/**
 * Errors of the evaluation layer: each has a stable `code` and names what the user gave (the CLI flag or the
 * API field) and what was expected.
 */

/** Stable codes of {@link EvalError}. */
export type EvalErrorCode =
  | 'EVAL_UNKNOWN_TASK'
  | 'EVAL_BAD_OPTION'
  | 'EVAL_BAD_LAYER'
  | 'EVAL_DATA_MISSING'
  | 'EVAL_DATA_MALFORMED'
  | 'EVAL_CACHE_MISMATCH'
  | 'EVAL_NO_RESULTS';

/** A user-facing evaluation error. */
export class EvalError extends Error {
  override readonly name = 'EvalError';
  readonly code: EvalErrorCode;
  constructor(code: EvalErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
