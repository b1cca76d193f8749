import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written on behalf of a request or a socket carries. */
export interface LogFields {
  reqId?: string;
  connectionId?: string;
  userId?: string;
}

/**
 * The request or connection being served, for the logger's mixin: services log through `platform.log` without
 * knowing about requests, and their lines still name the request (docs/architecture.md, Operations: Logs).
 */
export const logContext = new AsyncLocalStorage<LogFields>();

export function logContextFields(): LogFields {
  return logContext.getStore() ?? {};
}

/** A client-supplied X-Request-Id is kept when it is short and plain; otherwise a new id is made. */
export function acceptRequestId(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9._-]{1,64}$/.test(value) ? value : null;
}
