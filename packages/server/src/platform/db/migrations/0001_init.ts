import type { Kysely } from 'kysely';

/**
 * Accounts, sessions, contacts, conversations and messages. Written with Kysely's schema builder and only
 * portable types (text, integer/bigint) so the same migration runs on SQLite, PostgreSQL and MySQL.
 * MySQL cannot index unbounded TEXT, so indexed string columns are varchar.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const id = 'varchar(64)';
  await db.schema
    .createTable('users')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('username', 'varchar(64)', (c) => c.notNull())
    .addColumn('username_norm', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(256)', (c) => c.notNull())
    .addColumn('bio', 'varchar(1200)', (c) => c.notNull().defaultTo(''))
    .addColumn('password_hash', 'varchar(256)', (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull().defaultTo('user'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint')
    .addColumn('disabled_at', 'bigint')
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('user_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('device_name', 'varchar(256)', (c) => c.notNull())
    .addColumn('user_agent', 'varchar(512)', (c) => c.notNull())
    .addColumn('ip', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_reason', 'varchar(64)')
    .execute();
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('session_id', id, (c) => c.notNull().references('sessions.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('refresh_tokens_session_idx').on('refresh_tokens').column('session_id').execute();

  await db.schema
    .createTable('friend_requests')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('from_user_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('to_user_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('note', 'varchar(1024)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('pending_key', 'varchar(140)', (c) => c.unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('friend_requests_to_idx').on('friend_requests').columns(['to_user_id', 'status']).execute();
  await db.schema
    .createIndex('friend_requests_from_idx')
    .on('friend_requests')
    .columns(['from_user_id', 'status'])
    .execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('direct_key', 'varchar(140)', (c) => c.unique())
    .addColumn('last_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('conversation_members')
    .addColumn('conversation_id', id, (c) => c.notNull().references('conversations.id'))
    .addColumn('user_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('read_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('joined_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('conversation_members_pk', ['conversation_id', 'user_id'])
    .execute();
  await db.schema.createIndex('conversation_members_user_idx').on('conversation_members').column('user_id').execute();

  await db.schema
    .createTable('friendships')
    .addColumn('user_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('friend_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('conversation_id', id, (c) => c.notNull().references('conversations.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('friendships_pk', ['user_id', 'friend_id'])
    .execute();

  await db.schema
    .createTable('blocks')
    .addColumn('blocker_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('blocked_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('blocks_pk', ['blocker_id', 'blocked_id'])
    .execute();
  await db.schema.createIndex('blocks_blocked_idx').on('blocks').column('blocked_id').execute();

  await db.schema
    .createTable('messages')
    .addColumn('conversation_id', id, (c) => c.notNull().references('conversations.id'))
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('id', id, (c) => c.notNull().unique())
    .addColumn('sender_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('client_msg_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('text', 'text')
    // Kinds other than text keep their fields here as JSON (call records, system events, attachments).
    .addColumn('payload', 'text')
    .addColumn('content_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('messages_pk', ['conversation_id', 'seq'])
    .execute();
  // Idempotency forever, not for a window (design notes §3): one row per (sender, client id).
  await db.schema
    .createIndex('messages_client_id_uq')
    .on('messages')
    .columns(['sender_id', 'client_msg_id'])
    .unique()
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'messages',
    'blocks',
    'friendships',
    'conversation_members',
    'conversations',
    'friend_requests',
    'refresh_tokens',
    'sessions',
    'users',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
