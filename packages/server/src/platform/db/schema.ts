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
  created_at: number;
  updated_at: number;
}

export interface ConversationMembersTable {
  conversation_id: string;
  user_id: string;
  read_seq: number;
  joined_at: number;
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
}
