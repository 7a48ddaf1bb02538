/**
 * Errors of exit fitting: each carries a stable `code` and a message naming what was given and what was
 * expected (the CLI prints the message; programs branch on the code).
 */

import { AutocontrastError } from '../errors';

/** Stable codes of {@link FitError}. */
export type FitErrorCode =
  | 'E_FIT_OPTION' // an option has a wrong value (the message names it)
  | 'E_FIT_LAYER' // a layer out of range, or without an exit the fit can read
  | 'E_FIT_NO_DATA' // no data files and no model (tokenizer) to sample text from
  | 'E_FIT_DATA_SHORT' // the data gives fewer chunks than a training and a validation chunk
  | 'E_FIT_DATA_FILE' // a data file cannot be read or parsed
  | 'E_FIT_EVAL_SET' // a data file is (part of) an evaluation set
  | 'E_FIT_GRAPH' // the model folder's graph does not show what fitting needs
  | 'E_FIT_DISK' // the disk filled up while writing (nothing was left half-written)
  | 'E_FIT_RESUME' // a checkpoint does not belong to this run
  | 'E_FIT_INTERRUPTED' // the signal stopped the run (what was done is in the checkpoint folder, when given)
  | 'E_FIT_OUT'; // the output folder cannot be written

/** A user-facing error of {@link fitExits}. */
export class FitError extends AutocontrastError<FitErrorCode> {
  /**
   * @param code stable error code
   * @param message what was given and what was expected
   */
  constructor(code: FitErrorCode, message: string) {
    super(code, message);
    this.name = 'FitError';
  }
}
