import { z } from 'zod';
import { CallRecordFieldsSchema } from './calls.js';

/** Timestamps on the wire are milliseconds since the Unix epoch. */
export const Timestamp = z.number().int().nonnegative();
export const Id = z.string().min(1).max(64);

export const UserPublicSchema = z.object({
  id: Id,
  username: z.string(),
  displayName: z.string(),
  bio: z.string(),
  createdAt: Timestamp,
});
export type UserPublic = z.infer<typeof UserPublicSchema>;

export const PresenceSchema = z.object({
  online: z.boolean(),
  lastSeenAt: Timestamp.nullable(),
});
export type Presence = z.infer<typeof PresenceSchema>;

/**
 * How the viewer relates to another user. `blocked` means the viewer blocked them; being blocked by someone
 * is never revealed (it shows as `none`).
 */
export const RelationshipSchema = z.enum(['self', 'friend', 'request_sent', 'request_received', 'blocked', 'none']);
export type Relationship = z.infer<typeof RelationshipSchema>;

export const UserSearchResultSchema = z.object({ user: UserPublicSchema, relationship: RelationshipSchema });
export type UserSearchResult = z.infer<typeof UserSearchResultSchema>;

export const ContactSchema = z.object({
  user: UserPublicSchema,
  /** The one-to-one conversation with this friend. */
  conversationId: Id,
  since: Timestamp,
  presence: PresenceSchema,
});
export type Contact = z.infer<typeof ContactSchema>;

export const FriendRequestStatusSchema = z.enum(['pending', 'accepted', 'rejected', 'cancelled']);
export const FriendRequestSchema = z.object({
  id: Id,
  from: UserPublicSchema,
  to: UserPublicSchema,
  note: z.string(),
  status: FriendRequestStatusSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type FriendRequest = z.infer<typeof FriendRequestSchema>;

export const BlockSchema = z.object({ user: UserPublicSchema, createdAt: Timestamp });
export type Block = z.infer<typeof BlockSchema>;

export const SessionSchema = z.object({
  id: Id,
  deviceName: z.string(),
  userAgent: z.string(),
  ip: z.string(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp,
  /** True for the session making the request. */
  current: z.boolean(),
});
export type Session = z.infer<typeof SessionSchema>;

const MessageBase = z.object({
  id: Id,
  conversationId: Id,
  /** Position in the conversation: strictly increasing from 1, no gaps. */
  seq: z.number().int().positive(),
  /** Always the authenticated sender; the server ignores any sender a client claims. */
  senderId: Id,
  clientMsgId: z.string(),
  createdAt: Timestamp,
});

export const TextMessageSchema = MessageBase.extend({ kind: z.literal('text'), text: z.string() });

/** The record a call leaves in its conversation, written by the server; the sender is the caller. */
export const CallMessageSchema = MessageBase.extend({ kind: z.literal('call'), ...CallRecordFieldsSchema.shape });

/** A stored message. More kinds (image, file, system) join this union later. */
export const MessageSchema = z.discriminatedUnion('kind', [TextMessageSchema, CallMessageSchema]);
export type Message = z.infer<typeof MessageSchema>;
export type MessageKind = Message['kind'];

export const ConversationKindSchema = z.enum(['direct']);
export type ConversationKind = z.infer<typeof ConversationKindSchema>;

export const ConversationSummarySchema = z.object({
  id: Id,
  kind: ConversationKindSchema,
  /** The other participant of a direct conversation. */
  peer: UserPublicSchema,
  /** Highest seq in the conversation (0 when empty). */
  lastSeq: z.number().int().nonnegative(),
  /** The viewer's read cursor. */
  readSeq: z.number().int().nonnegative(),
  /** The peer's read cursor: messages up to here have been read by the peer (read receipts). */
  peerReadSeq: z.number().int().nonnegative(),
  /** Messages after readSeq not sent by the viewer. */
  unreadCount: z.number().int().nonnegative(),
  lastMessage: MessageSchema.nullable(),
  updatedAt: Timestamp,
});
export type ConversationSummary = z.infer<typeof ConversationSummarySchema>;
