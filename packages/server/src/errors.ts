import { ERRORS, type ErrorBody, type ErrorCode, type FieldError } from '@kkchat/protocol';

/**
 * An error meant for the client: a stable code from the protocol, its HTTP status and a human message.
 * Services throw these; routes and the gateway turn them into `{ error: {...} }` bodies and error frames.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields?: FieldError[];
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, options: { message?: string; fields?: FieldError[]; retryAfterMs?: number } = {}) {
    super(options.message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    if (options.fields) this.fields = options.fields;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.fields ? { fields: this.fields } : {}),
        ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
      },
    };
  }
}

/** Turns zod-style issues into field errors named by their dotted path. */
export function fieldErrorsFromIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}
