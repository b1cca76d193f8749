import type { Generated } from 'kysely';

/**
 * Table types for Kysely. Timestamps are integers (ms since epoch); ids are strings.
 * The migrations in ./migrations create exactly these tables.
 */
export interface UsersTable {
  id: string;
  username: string;
  /** Lower-cased username: uniqueness is case-insensitive. */
  username_norm: string;
  display_name: string;
  bio: Generated<string>;
  password_hash: string;
  role: Generated<string>;
  created_at: number;
  updated_at: number;
  last_seen_at: number | null;
  disabled_at: number | null;
  /** Set when the account was deleted (anonymised); the row stays so its messages keep a sender. */
  deleted_at: number | null;
  /** 1 after an administrator reset the password: login refuses until the user replaces it. */
  must_change_password: Generated<number>;
  /** The avatar's file id, '' when none. */
  avatar: Generated<string>;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  device_name: string;
  user_agent: string;
  ip: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

/** Every refresh token ever issued for a session; a used one presented again revokes the session (reuse). */
export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface FriendRequestsTable {
  id: string;
  from_user_id: string;
  to_user_id: string;
  note: string;
  status: string;
  /** `from:to` while pending, NULL after: a unique index then allows one pending request per direction. */
  pending_key: string | null;
  created_at: number;
  updated_at: number;
}

export interface FriendshipsTable {
  user_id: string;
  friend_id: string;
  conversation_id: string;
  created_at: number;
}

export interface BlocksTable {
  blocker_id: string;
  blocked_id: string;
  created_at: number;
}

export interface ConversationsTable {
  id: string;
  kind: string;
  /** For direct conversations: the two user ids sorted and joined by ':'; unique. */
  direct_key: string | null;
  /** Highest seq assigned; bumped in the same transaction that stores the message. */
  last_seq: number;
  /** Bumped by every change of what the membership caches hold (migration 0006); defaults to 0. */
  state_version: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface ConversationMembersTable {
  conversation_id: string;
  user_id: string;
  read_seq: number;
  joined_at: number;
  /** Groups: owner | admin | member. */
  role: Generated<string>;
  muted_until: number | null;
  /** Set when the member left, was removed, or the group was dismissed; the row stays for their history. */
  left_at: number | null;
  left_reason: string | null;
  /** History readable: seq > visible_from_seq and seq <= visible_until_seq (NULL: no upper bound). */
  visible_from_seq: Generated<number>;
  visible_until_seq: number | null;
}

export interface GroupsTable {
  conversation_id: string;
  name: string;
  description: string;
  avatar: Generated<string>;
  announcement: string;
  join_mode: string;
  member_limit: number;
  muted_all: Generated<number>;
  owner_id: string;
  invite_code: string | null;
  invite_created_at: number | null;
  dismissed_at: number | null;
  /** Set by an administrator: the group is read-only and hidden from anyone outside it. */
  disabled_at: number | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface MessageMentionsTable {
  conversation_id: string;
  seq: number;
  /** A mentioned user, or '*' for @all. */
  user_id: string;
}

export interface GroupJoinRequestsTable {
  id: string;
  conversation_id: string;
  user_id: string;
  inviter_id: string | null;
  note: Generated<string>;
  status: string;
  pending_key: string | null;
  created_at: number;
  updated_at: number;
}

export interface MessagesTable {
  conversation_id: string;
  seq: number;
  id: string;
  sender_id: string;
  client_msg_id: string;
  kind: string;
  text: string | null;
  /** The fields of non-text kinds, as JSON. */
  payload: string | null;
  /** sha-256 of the sent content: a retry with the same client id and different content is a conflict. */
  content_hash: string;
  created_at: number;
  /** Removed by an administrator: a tombstone (text and payload cleared), the seq kept. */
  removed_at: Generated<number | null>;
}

/** Every administrative action; rows are only ever inserted. */
export interface AuditLogTable {
  id: string;
  created_at: number;
  actor_id: string | null;
  via: string;
  action: string;
  target_type: string;
  target_id: string;
  reason: string;
  /** JSON object of action-specific facts. */
  details: string;
}

/** Named rows that transactions update to serialize with each other (e.g. 'admins'). */
export interface LocksTable {
  name: string;
  version: number;
}

/** An upload session (uploading, processing) or a stored file (ready); deleting while its objects go. */
export interface FilesTable {
  id: string;
  owner_id: string;
  purpose: string;
  status: string;
  name: string;
  size: number;
  received: Generated<number>;
  part_size: number;
  mime: Generated<string>;
  sha256: string | null;
  width: number | null;
  height: number | null;
  thumb_width: number | null;
  thumb_height: number | null;
  storage_key: string;
  multipart_id: string | null;
  writer: string | null;
  writer_until: number | null;
  expires_at: number | null;
  /** Since when nothing refers to the file (NULL while a message or avatar does); the sweep's clock. */
  released_at: number | null;
  completed_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface FilePartsTable {
  file_id: string;
  part_number: number;
  etag: string;
  size: number;
}

export interface FileAttachmentsTable {
  conversation_id: string;
  seq: number;
  file_id: string;
}

/** An event waiting for the relay (cluster mode): `payload` is the bus envelope as JSON. */
export interface OutboxTable {
  id: Generated<number>;
  shard: number;
  event_key: string;
  payload: string;
  created_at: number;
}

export interface OutboxLeasesTable {
  shard: number;
  owner: string | null;
  expires_at: number;
}

export interface OutboxRelaysTable {
  relay_id: string;
  seen_at: number;
}

/** The live call of a user, shared by the nodes; `owner` is the node process holding the call's state. */
export interface LiveCallsTable {
  user_id: string;
  call_id: string;
  owner: string;
  expires_at: number;
}

export interface DB {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  friend_requests: FriendRequestsTable;
  friendships: FriendshipsTable;
  blocks: BlocksTable;
  conversations: ConversationsTable;
  conversation_members: ConversationMembersTable;
  messages: MessagesTable;
  groups: GroupsTable;
  message_mentions: MessageMentionsTable;
  group_join_requests: GroupJoinRequestsTable;
  audit_log: AuditLogTable;
  locks: LocksTable;
  files: FilesTable;
  file_parts: FilePartsTable;
  file_attachments: FileAttachmentsTable;
  outbox: OutboxTable;
  outbox_leases: OutboxLeasesTable;
  outbox_relays: OutboxRelaysTable;
  live_calls: LiveCallsTable;
}
