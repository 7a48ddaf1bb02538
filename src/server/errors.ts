/** Errors in the OpenAI wire shape: `{ "error": { "message", "type", "param", "code" } }` with an HTTP status. */

/** The `type` field OpenAI clients branch on. */
export type ApiErrorType = 'invalid_request_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'timeout_error';

/** A request the server answers with an error body; `code` is stable (tests and clients match on it). */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  readonly type: ApiErrorType;
  /** The request field at fault (its API name), or null. */
  readonly param: string | null;
  /** Stable machine-readable code, e.g. `invalid_type`, `model_not_found`, `context_length_exceeded`. */
  readonly code: string;
  /** Extra response headers (e.g. `Retry-After`, `Allow`). */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: { param?: string | null; type?: ApiErrorType; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.param = options.param ?? null;
    this.type = options.type ?? (status === 404 ? 'not_found_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
    this.headers = options.headers ?? {};
  }

  /** The response body. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a field with a wrong type or value. */
export function badField(param: string, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, code, message, { param });
}

/** Any thrown value as an ApiError: library TypeError/RangeError are the caller's fault (400), the rest 500. */
export function toApiError(e: unknown, param: string | null = null): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof TypeError || e instanceof RangeError) return new ApiError(400, 'invalid_value', e.message, { param });
  const message = e instanceof Error ? e.message : String(e);
  return new ApiError(500, 'internal_error', `internal error: ${message}`);
}
