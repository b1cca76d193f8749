import type { Kysely } from 'kysely';

/**
 * Group chat. A group is a conversation of kind `group` with a `groups` row for its settings; its members are
 * rows of conversation_members, which gain a role, a mute, and the bounds of the history each member may read:
 * `visible_from_seq` (exclusive; the seq before the member's join) and `visible_until_seq` (inclusive; the seq
 * of the system message recording their departure, NULL while they are a member). A departed member's row
 * stays, so what they had stays readable (issue 3, BR-12). Portable types only (SQLite, PostgreSQL, MySQL).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const id = 'varchar(64)';
  await db.schema
    .createTable('groups')
    .addColumn('conversation_id', id, (c) => c.primaryKey().references('conversations.id'))
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('avatar', 'varchar(512)', (c) => c.notNull().defaultTo(''))
    .addColumn('announcement', 'text', (c) => c.notNull())
    .addColumn('join_mode', 'varchar(16)', (c) => c.notNull().defaultTo('approval'))
    .addColumn('member_limit', 'integer', (c) => c.notNull().defaultTo(2000))
    .addColumn('muted_all', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('owner_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('invite_code', 'varchar(64)', (c) => c.unique())
    .addColumn('invite_created_at', 'bigint')
    .addColumn('dismissed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('conversation_members').addColumn('role', 'varchar(16)', (c) => c.notNull().defaultTo('member')).execute();
  await db.schema.alterTable('conversation_members').addColumn('muted_until', 'bigint').execute();
  await db.schema.alterTable('conversation_members').addColumn('left_at', 'bigint').execute();
  // left | removed | dismissed
  await db.schema.alterTable('conversation_members').addColumn('left_reason', 'varchar(16)').execute();
  await db.schema.alterTable('conversation_members').addColumn('visible_from_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('conversation_members').addColumn('visible_until_seq', 'bigint').execute();

  // Mentions of a stored message, for the mentioned user's unread mention count. `@all` is one row with user '*'.
  await db.schema
    .createTable('message_mentions')
    .addColumn('conversation_id', id, (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('user_id', id, (c) => c.notNull())
    .addPrimaryKeyConstraint('message_mentions_pk', ['conversation_id', 'user_id', 'seq'])
    .execute();

  await db.schema
    .createTable('group_join_requests')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('conversation_id', id, (c) => c.notNull().references('conversations.id'))
    .addColumn('user_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('inviter_id', id)
    .addColumn('note', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    // `conversation:user` while pending, NULL after: one pending request per user and group.
    .addColumn('pending_key', 'varchar(140)', (c) => c.unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('group_join_requests_conv_idx').on('group_join_requests').columns(['conversation_id', 'status']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('group_join_requests').ifExists().execute();
  await db.schema.dropTable('message_mentions').ifExists().execute();
  for (const column of ['visible_until_seq', 'visible_from_seq', 'left_reason', 'left_at', 'muted_until', 'role']) {
    await db.schema.alterTable('conversation_members').dropColumn(column).execute();
  }
  await db.schema.dropTable('groups').ifExists().execute();
}
