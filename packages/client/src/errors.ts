import { ERRORS, isErrorCode, type ErrorCode, type FieldError } from '@kkchat/protocol';

/**
 * Codes the SDK itself produces for failures that never reached a server answer. They are not part of the
 * protocol's ERRORS table (the server never sends them) and have status 0.
 */
export const CLIENT_ERROR_CODES = {
  /** fetch failed: the server is unreachable or the connection broke. */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** No answer within requestTimeoutMs. */
  TIMEOUT: 'TIMEOUT',
  /** The server answered with a body that does not match the protocol. */
  BAD_RESPONSE: 'BAD_RESPONSE',
  /** The WebSocket closed before a request frame got its reply. */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** disconnect() was called, or the client is closed for good (session revoked, signed out). */
  DISCONNECTED: 'DISCONNECTED',
  /** An outbox entry was discarded while someone waited for it. */
  DISCARDED: 'DISCARDED',
} as const;
export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/** An error answered by the server (HTTP error body or WebSocket error frame) or produced by the SDK. */
export class ApiError extends Error {
  /** A protocol ErrorCode, a ClientErrorCode, or an unknown code from a newer server. */
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  /** HTTP status; for WebSocket error frames the status the protocol assigns to the code; 0 for SDK errors. */
  readonly status: number;
  readonly fields?: FieldError[];
  /** Set with RATE_LIMITED / LOGIN_THROTTLED: wait this long before trying again. */
  readonly retryAfterMs?: number;

  constructor(
    code: string,
    message: string,
    status: number,
    extra: { fields?: FieldError[]; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    if (extra.fields) this.fields = extra.fields;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
  }

  /** Builds an error for a code from the protocol table, with its status and default message. */
  static of(code: ErrorCode, message?: string): ApiError {
    return new ApiError(code, message ?? ERRORS[code].message, ERRORS[code].status);
  }

  /** Builds an SDK-side error (status 0). */
  static client(code: ClientErrorCode, message: string, cause?: unknown): ApiError {
    return new ApiError(code, message, 0, { cause });
  }
}

/** The status the protocol assigns to a code, or `fallback` for codes it does not know. */
export function statusOf(code: string, fallback = 400): number {
  return isErrorCode(code) ? ERRORS[code].status : fallback;
}

/**
 * Codes after which resending the same message cannot succeed: the outbox marks the entry failed and lets the
 * user decide (retry or discard).
 */
export const PERMANENT_SEND_ERRORS: ReadonlySet<string> = new Set<ErrorCode>([
  'NOT_FRIENDS',
  'BLOCKED_BY_USER',
  'YOU_BLOCKED_USER',
  'NOT_MEMBER',
  'MEMBER_MUTED',
  'GROUP_MUTED',
  'GROUP_DISMISSED',
  'GROUP_DISABLED',
  'ACCOUNT_DISABLED',
  'ACCOUNT_DELETED',
  'MENTION_ALL_FORBIDDEN',
  'TEXT_EMPTY',
  'TEXT_TOO_LONG',
  'CLIENT_MSG_ID_CONFLICT',
  'CONVERSATION_NOT_FOUND',
  'VALIDATION_FAILED',
  'INVALID_FRAME',
  'UNKNOWN_FRAME_TYPE',
  'PAYLOAD_TOO_LARGE',
]);

/**
 * 401 codes answered by one refresh and a retry. TOKEN_EXPIRED/TOKEN_INVALID: the access token is stale.
 * SESSION_REVOKED: the refresh fails too, which is what reports 'auth.expired' to an app that was offline
 * when the session ended (an open socket hears 4003 instead).
 */
export const REFRESHABLE_AUTH_ERRORS: ReadonlySet<string> = new Set<ErrorCode>([
  'TOKEN_EXPIRED',
  'TOKEN_INVALID',
  'SESSION_REVOKED',
]);

/**
 * Codes that end the session for good whatever the request: an administrator disabled or deleted the account.
 * The SDK forgets the tokens and reports 'auth.expired' with the code, so the app can say why.
 */
export const ACCOUNT_ENDED_ERRORS: ReadonlySet<string> = new Set<ErrorCode>(['ACCOUNT_DISABLED', 'ACCOUNT_DELETED']);
