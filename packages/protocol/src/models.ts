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
  /** The avatar's file id ('' when none); fetch its `thumb` variant through a signed link (docs/protocol.md). */
  avatar: z.string(),
  createdAt: Timestamp,
  /** The account was deleted: its messages stay, shown as from a "deleted user" (name and bio are cleared). */
  deleted: z.boolean().optional(),
});
export type UserPublic = z.infer<typeof UserPublicSchema>;

/** An account's role in the whole system (not a group role): admins use the admin API. */
export const AccountRoleSchema = z.enum(['user', 'admin']);
export type AccountRole = z.infer<typeof AccountRoleSchema>;

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

export const TextMessageSchema = MessageBase.extend({
  kind: z.literal('text'),
  text: z.string(),
  /** Group messages: the members `@`-mentioned (user ids). Absent when nobody is. */
  mentions: z.array(Id).optional(),
  /** Group messages: `@all` (only owners and admins may send it). */
  mentionAll: z.boolean().optional(),
});

/**
 * An uploaded file as messages carry it. `mime` is what the server detected from the content (never what the
 * client declared); images have their size and a thumbnail (at most LIMITS.thumbnailMax px on a side).
 */
export const FileInfoSchema = z.object({
  id: Id,
  /** The original name, sanitized (NFC; separators, control and bidi characters removed; capped). */
  name: z.string(),
  size: z.number().int().nonnegative(),
  mime: z.string(),
  sha256: z.string(),
  width: z.number().int().positive().nullable(),
  height: z.number().int().positive().nullable(),
  thumbnail: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).nullable(),
});
export type FileInfo = z.infer<typeof FileInfoSchema>;

/** Message kinds that carry an uploaded file. */
export const ATTACHMENT_KINDS = ['image', 'file', 'audio', 'video'] as const;
export const AttachmentKindSchema = z.enum(ATTACHMENT_KINDS);
export type AttachmentKind = z.infer<typeof AttachmentKindSchema>;

/** Length of a voice clip or video as its sender reported it (display only); null when unknown. */
const DurationMs = z.number().int().min(0).max(24 * 3600 * 1000).nullable();

export const ImageMessageSchema = MessageBase.extend({ kind: z.literal('image'), file: FileInfoSchema });
export const FileMessageSchema = MessageBase.extend({ kind: z.literal('file'), file: FileInfoSchema });
export const AudioMessageSchema = MessageBase.extend({ kind: z.literal('audio'), file: FileInfoSchema, durationMs: DurationMs });
export const VideoMessageSchema = MessageBase.extend({ kind: z.literal('video'), file: FileInfoSchema, durationMs: DurationMs });

// ---- groups (requests and responses are in groups.ts) ----
export const GroupRoleSchema = z.enum(['owner', 'admin', 'member']);
export type GroupRole = z.infer<typeof GroupRoleSchema>;

/**
 * open: the invite link joins at once and members may add friends; approval: an admin approves each join;
 * invite_only: only admins add people and the invite link is refused.
 */
export const GroupJoinModeSchema = z.enum(['open', 'approval', 'invite_only']);
export type GroupJoinMode = z.infer<typeof GroupJoinModeSchema>;

export const SystemEventTypeSchema = z.enum([
  'group_created',
  'member_joined',
  'member_left',
  'member_removed',
  'role_changed',
  'owner_changed',
  'name_changed',
  'description_changed',
  'avatar_changed',
  'announcement_changed',
  'join_mode_changed',
  'muted_all_changed',
  'member_muted',
  'group_dismissed',
]);
export type SystemEventType = z.infer<typeof SystemEventTypeSchema>;

/** What a system message records. `actorId` did it; `userIds` are the members it concerns. */
export const SystemEventSchema = z.object({
  type: SystemEventTypeSchema,
  actorId: Id,
  userIds: z.array(Id).optional(),
  role: GroupRoleSchema.optional(),
  /** The new name, description, avatar or announcement (the *_changed events). */
  value: z.string().optional(),
  joinMode: GroupJoinModeSchema.optional(),
  mutedAll: z.boolean().optional(),
  /** member_muted: until when (null: unmuted). */
  mutedUntil: Timestamp.nullable().optional(),
  /** Done by a system administrator (not a member of the group); clients say "an administrator". */
  byAdmin: z.boolean().optional(),
});
export type SystemEvent = z.infer<typeof SystemEventSchema>;

/** A timeline event the server writes (group membership and settings); it has its own seq like any message. */
export const SystemMessageSchema = MessageBase.extend({ kind: z.literal('system'), event: SystemEventSchema });

/** The record a call leaves in its conversation, written by the server; the sender is the caller. */
export const CallMessageSchema = MessageBase.extend({ kind: z.literal('call'), ...CallRecordFieldsSchema.shape });

/**
 * A message an administrator removed: the seq and id stay (never reused), the content is gone. History, sync and
 * the conversation list show this tombstone in its place.
 */
export const RemovedMessageSchema = MessageBase.extend({ kind: z.literal('removed'), removedAt: Timestamp });
export type RemovedMessage = z.infer<typeof RemovedMessageSchema>;

/**
 * The timeline record of a removal, with its own seq, so a device that was offline learns of it by its normal
 * catch-up: apply `removed` to the copy you hold and do not display the record. It is never unread and never
 * the last-message preview. `senderId` is the administrator.
 */
export const RedactionMessageSchema = MessageBase.extend({ kind: z.literal('redaction'), removed: RemovedMessageSchema });

/** A stored message. */
export const MessageSchema = z.discriminatedUnion('kind', [
  TextMessageSchema,
  ImageMessageSchema,
  FileMessageSchema,
  AudioMessageSchema,
  VideoMessageSchema,
  CallMessageSchema,
  SystemMessageSchema,
  RemovedMessageSchema,
  RedactionMessageSchema,
]);
export type Message = z.infer<typeof MessageSchema>;
export type MessageKind = Message['kind'];
export type AttachmentMessage = Extract<Message, { kind: AttachmentKind }>;

/** True for the kinds that carry a file (image, file, audio, video). */
export function isAttachmentMessage(message: Message): message is AttachmentMessage {
  return (ATTACHMENT_KINDS as readonly string[]).includes(message.kind);
}

export const ConversationKindSchema = z.enum(['direct', 'group']);
export type ConversationKind = z.infer<typeof ConversationKindSchema>;

/** The viewer's standing in a group: a current member, or departed (history readable up to the departure). */
export const GroupMembershipStateSchema = z.enum(['active', 'left', 'removed', 'dismissed']);
export type GroupMembershipState = z.infer<typeof GroupMembershipStateSchema>;

export const GroupSummarySchema = z.object({
  name: z.string(),
  description: z.string(),
  /** The avatar's file id ('' when none), like UserPublic.avatar. */
  avatar: z.string(),
  /** The pinned notice shown in the chat header (empty when none). */
  announcement: z.string(),
  joinMode: GroupJoinModeSchema,
  memberLimit: z.number().int().positive(),
  mutedAll: z.boolean(),
  ownerId: Id,
  memberCount: z.number().int().nonnegative(),
  /** The viewer's role; null once they have left or been removed. */
  role: GroupRoleSchema.nullable(),
  membership: GroupMembershipStateSchema,
  /** The viewer cannot post until then. */
  mutedUntil: Timestamp.nullable(),
  dismissedAt: Timestamp.nullable(),
  /** An administrator disabled the group: read-only for everyone; the reason is shown to members. */
  disabledAt: Timestamp.nullable().optional(),
  disabledReason: z.string().nullable().optional(),
  createdAt: Timestamp,
});
export type GroupSummary = z.infer<typeof GroupSummarySchema>;

export const ConversationSummarySchema = z.object({
  id: Id,
  kind: ConversationKindSchema,
  /** The other participant of a direct conversation (absent for a group). */
  peer: UserPublicSchema.optional(),
  /** A group conversation's settings and the viewer's place in it (absent for a direct one). */
  group: GroupSummarySchema.optional(),
  /** Highest seq in the conversation (0 when empty). */
  lastSeq: z.number().int().nonnegative(),
  /** The viewer's read cursor. */
  readSeq: z.number().int().nonnegative(),
  /** The peer's read cursor: messages up to here have been read by the peer (read receipts). */
  peerReadSeq: z.number().int().nonnegative(),
  /** Messages after readSeq not sent by the viewer. */
  unreadCount: z.number().int().nonnegative(),
  /** Unread messages that mention the viewer (or @all); groups only. */
  mentionCount: z.number().int().nonnegative().optional(),
  lastMessage: MessageSchema.nullable(),
  updatedAt: Timestamp,
});
export type ConversationSummary = z.infer<typeof ConversationSummarySchema>;

/** The text of a text message; '' for the other kinds (system events, call records). */
export function messageText(message: Message): string {
  return message.kind === 'text' ? message.text : '';
}
