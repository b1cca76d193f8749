import { z } from 'zod';
import {
  AccountRoleSchema,
  ContactSchema,
  FriendRequestSchema,
  Id,
  MessageSchema,
  RemovedMessageSchema,
  Timestamp,
  UserPublicSchema,
} from './models.js';
import { AttachmentContentSchema, ClientMsgIdSchema, TextContentSchema } from './rest.js';
import type { ErrorCode, FieldError } from './errors.js';
import { CALL_CLIENT_FRAME_SCHEMAS, CALL_CLIENT_FRAME_TYPES, CALL_SERVER_FRAME_SCHEMAS } from './calls.js';

/**
 * WebSocket frames on `/ws`. Every frame is one JSON object with a `type`. A client frame may carry `rid`
 * (request id); the server's reply to that frame (`ack`, `pong`, `read.ok` or `error`) repeats it.
 * See docs/protocol.md for the handshake, close codes and the sync procedure.
 */

const Rid = z.string().max(64).optional();

// ---- client -> server ----
export const AuthFrameSchema = z.object({ type: z.literal('auth'), token: z.string().min(1).max(4096) });

const SendEnvelope = { type: z.literal('send'), rid: Rid, conversationId: Id, clientMsgId: ClientMsgIdSchema };

/** A message to store: text, or a file message (kind image, file, audio or video with its fileId). */
export const SendFrameSchema = z.discriminatedUnion('kind', [
  TextContentSchema.extend(SendEnvelope),
  AttachmentContentSchema.extend(SendEnvelope),
]);

export const ReadFrameSchema = z.object({
  type: z.literal('read'),
  rid: Rid,
  conversationId: Id,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export const TypingFrameSchema = z.object({ type: z.literal('typing'), conversationId: Id });

export const PingFrameSchema = z.object({ type: z.literal('ping'), rid: Rid });

export const ClientFrameSchema = z.discriminatedUnion('type', [
  AuthFrameSchema,
  SendFrameSchema,
  ReadFrameSchema,
  TypingFrameSchema,
  PingFrameSchema,
  ...CALL_CLIENT_FRAME_SCHEMAS,
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
export type ClientFrameType = ClientFrame['type'];
export const CLIENT_FRAME_TYPES = [
  'auth',
  'send',
  'read',
  'typing',
  'ping',
  ...CALL_CLIENT_FRAME_TYPES,
] as const satisfies readonly ClientFrameType[];

// ---- server -> client ----
export const ServerFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('auth.ok'),
    userId: Id,
    sessionId: Id,
    /** The server pings at this interval; a client that hears nothing for 2x this should reconnect. */
    heartbeatMs: z.number().int().positive(),
    serverTime: Timestamp,
  }),
  z.object({ type: z.literal('ack'), rid: Rid, message: MessageSchema, duplicate: z.boolean() }),
  z.object({ type: z.literal('read.ok'), rid: Rid, conversationId: Id, readSeq: z.number().int().nonnegative() }),
  z.object({ type: z.literal('pong'), rid: Rid, serverTime: Timestamp }),
  z.object({
    type: z.literal('error'),
    rid: Rid,
    code: z.string(),
    message: z.string(),
    fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    retryAfterMs: z.number().optional(),
  }),
  /** A new message in a conversation the user belongs to (also to the sender's other devices). */
  z.object({ type: z.literal('message'), message: MessageSchema }),
  /** A read cursor moved: the user's own other device, or the peer (read receipt). */
  z.object({ type: z.literal('read'), conversationId: Id, userId: Id, seq: z.number().int().nonnegative() }),
  z.object({ type: z.literal('typing'), conversationId: Id, userId: Id }),
  z.object({ type: z.literal('presence'), userId: Id, online: z.boolean(), lastSeenAt: Timestamp.nullable() }),
  /** A friend request was created or changed state; sent to both sides. */
  z.object({ type: z.literal('friend.request'), request: FriendRequestSchema }),
  /** A friendship began (sent to both sides, each seeing the other as the contact). */
  z.object({ type: z.literal('contact.added'), contact: ContactSchema }),
  z.object({ type: z.literal('contact.removed'), userId: Id }),
  /** A user the receiver knows changed their profile. */
  z.object({ type: z.literal('user.updated'), user: UserPublicSchema }),
  /** A group the user is in changed (settings, members, roles, or the user was added): refetch its summary. */
  z.object({ type: z.literal('group.updated'), conversationId: Id }),
  /** The user is no longer in a group; its history up to the departure stays readable. */
  z.object({ type: z.literal('group.removed'), conversationId: Id, reason: z.enum(['left', 'removed', 'dismissed']) }),
  /**
   * An administrator removed a message: replace the copy you hold with this tombstone (same seq). Sent to everyone
   * who can see that seq; may arrive together with the `redaction` record of the removal (applying twice is fine).
   */
  z.object({ type: z.literal('message.removed'), message: RemovedMessageSchema }),
  /** The signed-in user's account changed (an administrator granted or revoked the admin role). */
  z.object({ type: z.literal('account.updated'), role: AccountRoleSchema }),
  /** Calls: see calls.ts. */
  ...CALL_SERVER_FRAME_SCHEMAS,
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;
export type ServerFrameType = ServerFrame['type'];
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;
export type ErrorFrame = ServerFrameOf<'error'> & { code: ErrorCode; fields?: FieldError[] };

/** Close codes the server uses; documented in docs/protocol.md. */
export const CLOSE_CODES = {
  /** Normal closure. */
  NORMAL: 1000,
  /** Server shutting down; reconnect with backoff. */
  GOING_AWAY: 1001,
  /** A frame was not valid UTF-8 JSON text. */
  INVALID_PAYLOAD: 1007,
  /** A frame was larger than LIMITS.wsMaxFrameBytes. */
  MESSAGE_TOO_BIG: 1009,
  /** No valid auth frame within the auth timeout. Reconnect and authenticate promptly. */
  AUTH_TIMEOUT: 4001,
  /** The auth frame's token is invalid or expired. Refresh the token, then reconnect. */
  AUTH_FAILED: 4002,
  /** The session was signed out (logout, revoke, password change). Do not reconnect with it. */
  SESSION_REVOKED: 4003,
  /** The first frame was not an auth frame. */
  AUTH_REQUIRED: 4004,
  /** An administrator disabled the account. Do not reconnect; signing in is refused until it is enabled. */
  ACCOUNT_DISABLED: 4005,
  /** The account was deleted. Do not reconnect. */
  ACCOUNT_DELETED: 4006,
  /** The connection kept exceeding its rate limit. Reconnect after a pause. */
  RATE_LIMITED: 4008,
  /** The client did not read fast enough and its send buffer overflowed. Reconnect and sync. */
  SLOW_CONSUMER: 4009,
  /**
   * This server is shutting down gracefully (its in-flight sends were answered). Reconnect at once, without
   * backoff: the load balancer sends the new connection to another server. Frames sent after the close began
   * were not processed; resend them (the SDK's outbox does, idempotently).
   */
  SERVER_DRAINING: 4010,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/** Close codes after which a client must not reconnect with the same session. */
export const TERMINAL_CLOSE_CODES: readonly number[] = [
  CLOSE_CODES.SESSION_REVOKED,
  CLOSE_CODES.ACCOUNT_DISABLED,
  CLOSE_CODES.ACCOUNT_DELETED,
];

/**
 * The reason string of a 4003 close (SESSION_REVOKED), naming why the session ended. Stable values a client can
 * show a message for.
 */
export const SESSION_END_REASONS = [
  'logout',
  'revoked',
  'password_changed',
  'refresh_reuse',
  'admin_signout',
  'password_reset',
  'account_disabled',
  'account_deleted',
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];
