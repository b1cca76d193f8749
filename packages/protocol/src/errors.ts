/**
 * Every error KKChat returns, with its HTTP status and default message.
 *
 * Codes are stable: clients switch on them, so a code is never renamed or reused once it has shipped.
 * `docs/errors.md` lists the same codes; a test fails when the two drift.
 */
export const ERRORS = {
  // Request shape
  VALIDATION_FAILED: { status: 400, message: 'The request is invalid; see fields for details.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the request body as application/json.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such endpoint.' },

  // Authentication and sessions
  UNAUTHENTICATED: { status: 401, message: 'Sign in to continue.' },
  TOKEN_EXPIRED: { status: 401, message: 'The access token has expired; refresh it.' },
  TOKEN_INVALID: { status: 401, message: 'The access token is not valid.' },
  SESSION_REVOKED: { status: 401, message: 'This session has been signed out.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong username or password.' },
  REFRESH_TOKEN_INVALID: { status: 401, message: 'The refresh token is not valid; sign in again.' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    message: 'This refresh token was already used; the session has been signed out for safety.',
  },
  CURRENT_PASSWORD_INCORRECT: { status: 403, message: 'The current password is not correct.' },
  LOGIN_THROTTLED: { status: 429, message: 'Too many sign-in attempts; try again later.' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'This origin is not allowed.' },
  SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
  ACCOUNT_DISABLED: { status: 403, message: 'This account has been disabled by an administrator.' },
  ACCOUNT_DELETED: { status: 403, message: 'This account has been deleted.' },
  PASSWORD_CHANGE_REQUIRED: {
    status: 403,
    message: 'This password was set by an administrator and must be changed before signing in.',
  },

  // Users
  USERNAME_TAKEN: { status: 409, message: 'This username is taken.' },
  USER_NOT_FOUND: { status: 404, message: 'No such user.' },

  // Contacts
  CANNOT_TARGET_SELF: { status: 400, message: 'You cannot do this to yourself.' },
  ALREADY_FRIENDS: { status: 409, message: 'You are already friends.' },
  FRIEND_REQUEST_EXISTS: { status: 409, message: 'A friend request is already pending.' },
  FRIEND_REQUEST_NOT_FOUND: { status: 404, message: 'No such friend request.' },
  FRIEND_REQUEST_NOT_PENDING: { status: 409, message: 'This friend request is no longer pending.' },
  NOT_FRIENDS: { status: 403, message: 'You can only do this with a friend.' },
  BLOCKED_BY_USER: { status: 403, message: 'This user does not accept messages or requests from you.' },
  YOU_BLOCKED_USER: { status: 403, message: 'You have blocked this user; unblock them first.' },

  // Conversations and messages
  CONVERSATION_NOT_FOUND: { status: 404, message: 'No such conversation.' },
  NOT_MEMBER: { status: 403, message: 'You are not a member of this conversation.' },
  TEXT_EMPTY: { status: 400, message: 'The message text is empty.' },
  TEXT_TOO_LONG: { status: 400, message: 'The message text is too long.' },
  CLIENT_MSG_ID_CONFLICT: {
    status: 409,
    message: 'This client message id was already used for a different message.',
  },
  SEQ_OUT_OF_RANGE: { status: 400, message: 'The sequence number is beyond the end of the conversation.' },

  // Calls
  CALL_NOT_FOUND: { status: 404, message: 'No such call.' },
  CALL_ENDED: { status: 409, message: 'This call has already ended.' },
  CALL_NOT_RINGING: { status: 409, message: 'This call is no longer ringing.' },
  CALL_ALREADY_ANSWERED: { status: 409, message: 'This call has already been answered.' },
  CALL_NOT_ACTIVE: { status: 409, message: 'This call has not been answered yet.' },
  CALL_NOT_ALLOWED: { status: 403, message: 'Only the other side of this call can do that.' },
  CALL_OTHER_DEVICE: { status: 403, message: 'This call is connected on another of your devices.' },
  ALREADY_IN_CALL: { status: 409, message: 'You are already in a call.' },
  CALL_CROSSED: { status: 409, message: 'This person is already calling you; answer that call.' },

  // Groups
  GROUP_PERMISSION_DENIED: { status: 403, message: 'Your role in this group does not allow this.' },
  GROUP_DISMISSED: { status: 409, message: 'This group was dismissed; its history is read-only.' },
  GROUP_FULL: { status: 409, message: 'This group has reached its member limit.' },
  MEMBER_MUTED: { status: 403, message: 'You are muted in this group.' },
  GROUP_MUTED: { status: 403, message: 'Only the owner and admins can post while the group is muted.' },
  MENTION_ALL_FORBIDDEN: { status: 403, message: 'Only the owner and admins can mention everyone.' },
  ALREADY_GROUP_MEMBER: { status: 409, message: 'This user is already a member of the group.' },
  GROUP_OWNER_CANNOT_LEAVE: { status: 409, message: 'The owner must transfer ownership or dismiss the group first.' },
  GROUP_MEMBER_NOT_FOUND: { status: 404, message: 'That user is not a member of this group.' },
  INVITE_LINK_INVALID: { status: 404, message: 'This invite link is not valid or was revoked.' },
  GROUP_JOIN_CLOSED: { status: 403, message: 'This group only admits people its admins add.' },
  JOIN_REQUEST_NOT_FOUND: { status: 404, message: 'No such pending join request.' },
  JOIN_REQUEST_EXISTS: { status: 409, message: 'A join request is already pending.' },

  // Files and uploads
  FILE_NOT_FOUND: { status: 404, message: 'No such file.' },
  UPLOAD_NOT_FOUND: { status: 404, message: 'No such upload.' },
  FILE_EMPTY: { status: 400, message: 'The file is empty.' },
  FILE_TOO_LARGE: { status: 413, message: 'The file is larger than the server accepts.' },
  FILE_TYPE_BLOCKED: { status: 415, message: 'Files of this type cannot be shared (programs and scripts).' },
  FILE_KIND_MISMATCH: { status: 400, message: 'This file cannot be sent as this kind of message.' },
  LENGTH_REQUIRED: { status: 411, message: 'Send the upload part with a Content-Length.' },
  UPLOAD_PART_INVALID: { status: 400, message: 'The upload part is not the expected size.' },
  UPLOAD_OFFSET_MISMATCH: { status: 409, message: 'The server expects another part; ask the upload for its offset.' },
  UPLOAD_BUSY: { status: 409, message: 'Another part of this upload is being received; retry shortly.' },
  UPLOAD_INCOMPLETE: { status: 409, message: 'Not every part of the file has been uploaded yet.' },
  UPLOAD_LIMIT_REACHED: { status: 429, message: 'Too many unfinished uploads; finish or cancel some first.' },
  FILE_LINK_INVALID: { status: 403, message: 'This download link is not valid.' },
  FILE_LINK_EXPIRED: { status: 403, message: 'This download link has expired; get a new one.' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The requested byte range is outside the file.' },

  GROUP_DISABLED: { status: 403, message: 'An administrator disabled this group; it is read-only.' },

  // Administration
  ADMIN_REQUIRED: { status: 403, message: 'This needs an administrator.' },
  LAST_ADMIN: { status: 409, message: 'The last administrator cannot lose the role or the account.' },
  MESSAGE_NOT_FOUND: { status: 404, message: 'No such message.' },
  MESSAGE_NOT_REMOVABLE: { status: 409, message: 'This timeline record cannot be removed.' },

  // WebSocket frames
  UNKNOWN_FRAME_TYPE: { status: 400, message: 'Unknown frame type.' },
  INVALID_FRAME: { status: 400, message: 'The frame is invalid; see fields for details.' },
  ALREADY_AUTHENTICATED: { status: 400, message: 'This connection is already authenticated.' },

  // Limits and server state
  RATE_LIMITED: { status: 429, message: 'Too many requests; slow down.' },
  CONVERSATION_BUSY: { status: 503, message: 'This conversation is changing too fast right now; try again in a moment.' },
  INTERNAL: { status: 500, message: 'Something went wrong on the server.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, value);
}

/** One invalid field of a request, named by its path (`"username"`, `"body.text"`). */
export interface FieldError {
  field: string;
  message: string;
}

/** The JSON body of every error response: `{ "error": { ... } }`. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    fields?: FieldError[];
    retryAfterMs?: number;
    /** On server errors (5xx): the request's id, as in the X-Request-Id header and the server's logs. */
    requestId?: string;
  };
}
