import type { FieldError } from '@kkchat/protocol';

/** The parts of an SDK ApiError the UI reads; duck-typed so any thrown value can be described safely. */
export interface ErrorLike {
  code: string;
  message: string;
  status?: number;
  fields?: FieldError[];
  retryAfterMs?: number;
}

export function isErrorLike(error: unknown): error is ErrorLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

type Translate = (key: string, named?: Record<string, unknown>) => string;
type HasKey = (key: string) => boolean;

/**
 * A translated sentence for an error: `errors.<CODE>` when the UI knows the code, else the server's own message
 * (a newer server may send codes this build does not know), else a generic line.
 */
export function errorMessage(error: unknown, t: Translate, te: HasKey): string {
  if (isErrorLike(error)) {
    const key = `errors.${error.code}`;
    if (/^[A-Z_]+$/.test(error.code) && te(key)) return t(key);
    if (error.message) return error.message;
  }
  return t('errors.generic');
}

/**
 * Field errors keyed by the last segment of the field path (`body.username` → `username`), first message wins.
 */
export function fieldErrors(error: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  if (!isErrorLike(error) || !error.fields) return result;
  for (const { field, message } of error.fields) {
    const name = field.split('.').at(-1) ?? field;
    result[name] ??= message;
  }
  return result;
}

/** Whole seconds to wait before retrying, or null when the error carries no retry hint. */
export function retryAfterSeconds(error: unknown): number | null {
  if (!isErrorLike(error) || error.retryAfterMs === undefined) return null;
  return Math.max(1, Math.ceil(error.retryAfterMs / 1000));
}
