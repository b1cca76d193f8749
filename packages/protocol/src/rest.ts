import { z } from 'zod';
import { isWellFormedText, LIMITS, USERNAME_PATTERN } from './limits.js';
import {
  AccountRoleSchema,
  AttachmentKindSchema,
  BlockSchema,
  ContactSchema,
  ConversationSummarySchema,
  FriendRequestSchema,
  Id,
  MessageSchema,
  SessionSchema,
  Timestamp,
  UserPublicSchema,
  UserSearchResultSchema,
} from './models.js';

/**
 * REST request and response bodies under `/api/v1`. The server validates requests with these schemas and
 * generates its OpenAPI document from them; the SDK types its calls with them.
 */

export const UsernameSchema = z
  .string()
  .min(LIMITS.usernameMin, `at least ${LIMITS.usernameMin} characters`)
  .max(LIMITS.usernameMax, `at most ${LIMITS.usernameMax} characters`)
  .regex(USERNAME_PATTERN, 'only letters, digits, "_", "." and "-"');

export const PasswordSchema = z
  .string()
  .min(LIMITS.passwordMin, `at least ${LIMITS.passwordMin} characters`)
  .max(LIMITS.passwordMax, `at most ${LIMITS.passwordMax} characters`);

/** Display names are cleaned by the server (see cleanDisplayName); this bounds the raw input. */
export const DisplayNameInputSchema = z.string().max(LIMITS.displayNameMax * 4);

const DeviceNameSchema = z.string().max(LIMITS.deviceNameMax);

// ---- auth ----
export const RegisterRequestSchema = z.object({
  username: UsernameSchema,
  displayName: DisplayNameInputSchema.optional(),
  password: PasswordSchema,
  deviceName: DeviceNameSchema.optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const LoginRequestSchema = z.object({
  username: z.string().min(1).max(LIMITS.usernameMax),
  password: z.string().min(1).max(LIMITS.passwordMax),
  deviceName: DeviceNameSchema.optional(),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

/** The refresh token may come in the body (SDKs) or in the httpOnly cookie the web app uses. */
export const RefreshRequestSchema = z.object({ refreshToken: z.string().min(1).max(512).optional() });
export type RefreshRequest = z.infer<typeof RefreshRequestSchema>;

export const AuthResultSchema = z.object({
  user: UserPublicSchema,
  sessionId: Id,
  accessToken: z.string(),
  accessTokenExpiresAt: Timestamp,
  /** Empty when the refresh was made with the httpOnly cookie: the new token is then only in the cookie. */
  refreshToken: z.string(),
  refreshTokenExpiresAt: Timestamp,
  /** The account's role: `admin` opens the admin area. */
  role: AccountRoleSchema,
});
export type AuthResult = z.infer<typeof AuthResultSchema>;

export const ChangePasswordRequestSchema = z.object({
  currentPassword: z.string().min(1).max(LIMITS.passwordMax),
  newPassword: PasswordSchema,
});
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequestSchema>;

/**
 * Signing in with a password an administrator set (answered `PASSWORD_CHANGE_REQUIRED` by login): the same
 * credentials plus the new password; the answer is a fresh session.
 */
export const RenewPasswordRequestSchema = z.object({
  username: z.string().min(1).max(LIMITS.usernameMax),
  password: z.string().min(1).max(LIMITS.passwordMax),
  newPassword: PasswordSchema,
  deviceName: DeviceNameSchema.optional(),
});
export type RenewPasswordRequest = z.infer<typeof RenewPasswordRequestSchema>;

export const SessionListResponseSchema = z.object({ sessions: z.array(SessionSchema) });
export type SessionListResponse = z.infer<typeof SessionListResponseSchema>;

// ---- users ----
export const UserResponseSchema = z.object({ user: UserPublicSchema });
export type UserResponse = z.infer<typeof UserResponseSchema>;

export const UpdateProfileRequestSchema = z.object({
  displayName: DisplayNameInputSchema.optional(),
  bio: z.string().max(LIMITS.bioMax * 4).optional(),
});
export type UpdateProfileRequest = z.infer<typeof UpdateProfileRequestSchema>;

export const UserSearchQuerySchema = z.object({
  q: z.string().trim().min(1).max(LIMITS.usernameMax * 2),
  limit: z.coerce.number().int().min(1).max(LIMITS.searchLimitMax).optional(),
});
export type UserSearchQuery = z.infer<typeof UserSearchQuerySchema>;

export const UserSearchResponseSchema = z.object({ users: z.array(UserSearchResultSchema) });
export type UserSearchResponse = z.infer<typeof UserSearchResponseSchema>;

// ---- contacts ----
export const ContactListResponseSchema = z.object({ contacts: z.array(ContactSchema) });
export type ContactListResponse = z.infer<typeof ContactListResponseSchema>;

export const SendFriendRequestSchema = z.object({
  userId: Id,
  note: z.string().max(LIMITS.friendRequestNoteMax).optional(),
});
export type SendFriendRequest = z.infer<typeof SendFriendRequestSchema>;

export const FriendRequestResponseSchema = z.object({ request: FriendRequestSchema });
export type FriendRequestResponse = z.infer<typeof FriendRequestResponseSchema>;

export const FriendRequestListResponseSchema = z.object({
  incoming: z.array(FriendRequestSchema),
  outgoing: z.array(FriendRequestSchema),
});
export type FriendRequestListResponse = z.infer<typeof FriendRequestListResponseSchema>;

export const AcceptFriendRequestResponseSchema = z.object({
  request: FriendRequestSchema,
  contact: ContactSchema,
});
export type AcceptFriendRequestResponse = z.infer<typeof AcceptFriendRequestResponseSchema>;

export const BlockListResponseSchema = z.object({ blocks: z.array(BlockSchema) });
export type BlockListResponse = z.infer<typeof BlockListResponseSchema>;

// ---- conversations and messages ----
export const ConversationListResponseSchema = z.object({ conversations: z.array(ConversationSummarySchema) });
export type ConversationListResponse = z.infer<typeof ConversationListResponseSchema>;

export const ConversationResponseSchema = z.object({ conversation: ConversationSummarySchema });
export type ConversationResponse = z.infer<typeof ConversationResponseSchema>;

export const OpenDirectConversationRequestSchema = z.object({ userId: Id });
export type OpenDirectConversationRequest = z.infer<typeof OpenDirectConversationRequestSchema>;

const SeqQuery = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * History paging. `after=n`: the first page of messages with seq > n, oldest first (catch-up).
 * `before=n`: the newest page of messages with seq < n (scrolling up). Both: the range between, oldest first.
 * Neither: the newest page. Pages are always returned oldest first.
 */
export const HistoryQuerySchema = z.object({
  before: SeqQuery.optional(),
  after: SeqQuery.optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.historyPageMax).optional(),
});
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

export const HistoryResponseSchema = z.object({
  messages: z.array(MessageSchema),
  /**
   * More messages exist in the paging direction: newer ones when paging with `after`, older ones otherwise.
   * A client catching up repeats with `after` = the last seq until this is false.
   */
  hasMore: z.boolean(),
  /** Highest seq in the conversation when the page was read. */
  lastSeq: z.number().int().nonnegative(),
  /** Lowest seq still stored; below it history is gone and the client must say so rather than show a gap. */
  earliestAvailableSeq: z.number().int().nonnegative(),
});
export type HistoryResponse = z.infer<typeof HistoryResponseSchema>;

export const ClientMsgIdSchema = z
  .string()
  .min(1)
  .max(LIMITS.clientMsgIdMax)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and "_.:-" only');

/** Text is bounded loosely here; the exact rule (code points, blank text) has its own error codes. */
export const MessageTextSchema = z
  .string()
  .max(LIMITS.textMax * 4)
  .refine(isWellFormedText, 'must be valid Unicode text (an unpaired surrogate is not)');

/** Group messages may name mentioned members (user ids, at most LIMITS.mentionsMax) and `@all`. */
export const MentionsSchema = z.array(Id).max(LIMITS.mentionsMax);

/** What a text message carries. */
export const TextContentSchema = z.object({
  kind: z.literal('text'),
  text: MessageTextSchema,
  mentions: MentionsSchema.optional(),
  mentionAll: z.boolean().optional(),
});

/**
 * What a file message carries: an uploaded file of the sender's (`fileId`, from POST /uploads … /complete) and,
 * for audio and video, the length the sender measured.
 */
export const AttachmentContentSchema = z.object({
  kind: AttachmentKindSchema,
  fileId: Id,
  durationMs: z.number().int().min(0).max(LIMITS.mediaDurationMaxMs).optional(),
});

/** A message's content as a client sends it: text, or a file of one of the attachment kinds. */
export const MessageContentSchema = z.discriminatedUnion('kind', [TextContentSchema, AttachmentContentSchema]);
export type MessageContent = z.infer<typeof MessageContentSchema>;
export type AttachmentContent = z.infer<typeof AttachmentContentSchema>;

export const SendMessageRequestSchema = z.discriminatedUnion('kind', [
  TextContentSchema.extend({ clientMsgId: ClientMsgIdSchema }),
  AttachmentContentSchema.extend({ clientMsgId: ClientMsgIdSchema }),
]);
export type SendMessageRequest = z.infer<typeof SendMessageRequestSchema>;

export const SendMessageResponseSchema = z.object({
  message: MessageSchema,
  /** True when this client message id had already been stored: the original message is returned. */
  duplicate: z.boolean(),
});
export type SendMessageResponse = z.infer<typeof SendMessageResponseSchema>;

export const MarkReadRequestSchema = z.object({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });
export type MarkReadRequest = z.infer<typeof MarkReadRequestSchema>;

export const MarkReadResponseSchema = z.object({ readSeq: z.number().int().nonnegative(), unreadCount: z.number().int().nonnegative() });
export type MarkReadResponse = z.infer<typeof MarkReadResponseSchema>;

export const HealthResponseSchema = z.object({ status: z.literal('ok'), uptimeMs: z.number(), version: z.string() });

export const IdParamsSchema = z.object({ id: Id });
export const UserIdParamsSchema = z.object({ userId: Id });
export { Timestamp };
