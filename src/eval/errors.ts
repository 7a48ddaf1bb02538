/**
 * Errors of the evaluation layer: each has a stable `code` and names what the user gave (the CLI flag or the
 * API field) and what was expected.
 */

import { AutocontrastError } from '../errors';

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
export class EvalError extends AutocontrastError<EvalErrorCode> {
  constructor(code: EvalErrorCode, message: string) {
    super(code, message);
    this.name = 'EvalError';
  }
}
