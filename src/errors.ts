/**
 * The library's error vocabulary. Every error it throws on purpose carries a stable `code`:
 *
 * - `AutocontrastError` subclasses (a model folder breaking the format, a failed pull or conversion, a GGUF
 *   or safetensors file it cannot read, a feature not proven on this device) for conditions a user acts on;
 * - `TypeError` / `RangeError` for bad arguments, with Node's own codes `ERR_INVALID_ARG_TYPE` and
 *   `ERR_OUT_OF_RANGE`, so `instanceof` keeps working as before and callers can branch on `code`;
 * - errors of the native addon, which cross the N-API boundary with the same codes (`ERR_INVALID_ARG_TYPE`,
 *   `ERR_OUT_OF_RANGE`, `AC_INVALID_STATE`, `AC_ORT`).
 *
 * Anything else (a plain `Error` without a code) is a bug, and the CLI prints it with its stack.
 */

/** Codes of this library's own error classes and of the native addon's runtime errors. */
export type AutocontrastErrorCode =
  | 'AC_USAGE'
  | 'AC_MODEL_FOLDER'
  | 'AC_PULL'
  | 'AC_CONVERT'
  | 'AC_GGUF'
  | 'AC_SAFETENSORS'
  | 'AC_RUNTIME_UNAVAILABLE'
  | 'AC_NOT_PROVEN_ON_DEVICE'
  | 'AC_INVALID_STATE'
  | 'AC_ORT'
  | 'AC_ABORTED';

/**
 * Base class of the library's errors: a one-line (or short) message and a stable `code`. A module with its own
 * family of codes (exit fitting: `FitError`, codes `E_FIT_*`) narrows `C`.
 */
export class AutocontrastError<C extends string = AutocontrastErrorCode> extends Error {
  /** Stable, machine-readable reason. */
  readonly code: C;

  /** @param code stable reason; @param message what happened and what to do. */
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AutocontrastError';
  }
}

/** A bad argument type, with Node's code `ERR_INVALID_ARG_TYPE`; `option` names the API field when there is one. */
export class InvalidArgTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_TYPE';
  /** The option (API field name) at fault, when the error is about one. */
  readonly option?: string;
  /** True when the value is fine alone but contradicts another option (a request's `conflicting_fields`). */
  readonly conflict?: boolean;
  /** @param message what was expected and what was received. */
  constructor(message: string, option?: string, conflict = false) {
    super(message);
    this.name = 'TypeError';
    if (option !== undefined) this.option = option;
    if (conflict) this.conflict = true;
  }
}

/** A value out of range or contradicting another, with Node's code `ERR_OUT_OF_RANGE`. */
export class OutOfRangeError extends RangeError {
  readonly code = 'ERR_OUT_OF_RANGE';
  /** The option (API field name) at fault, when the error is about one. */
  readonly option?: string;
  /** True when the value is fine alone but contradicts another option (a request's `conflicting_fields`). */
  readonly conflict?: boolean;
  /** @param message the allowed range and the value received. */
  constructor(message: string, option?: string, conflict = false) {
    super(message);
    this.name = 'RangeError';
    if (option !== undefined) this.option = option;
    if (conflict) this.conflict = true;
  }
}

/** Whether `e` is an argument error (bad type or range) raised on purpose, by this library or its addon. */
export function isArgumentError(e: unknown): e is (TypeError | RangeError) & { code: string; option?: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return (e instanceof TypeError || e instanceof RangeError) && (code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_OUT_OF_RANGE');
}
