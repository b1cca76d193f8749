import type { Kysely } from 'kysely';

/**
 * Administration (issue 7): deleted accounts and forced password changes on users, disabled groups, removed
 * messages (tombstones), the append-only audit log, and the `locks` row that serializes every change that could
 * leave the system without an administrator. Portable types only (SQLite, PostgreSQL, MySQL).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const id = 'varchar(64)';
  await db.schema.alterTable('users').addColumn('deleted_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createIndex('users_role_idx').on('users').column('role').execute();

  await db.schema.alterTable('groups').addColumn('disabled_at', 'bigint').execute();
  await db.schema.alterTable('groups').addColumn('disabled_reason', 'varchar(1000)').execute();

  // A removed message keeps its row (seq and id are never reused); its content is cleared.
  await db.schema.alterTable('messages').addColumn('removed_at', 'bigint').execute();
  // The dashboard counts messages per day over the last 30 days: a range scan of this index.
  await db.schema.createIndex('messages_created_idx').on('messages').column('created_at').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // NULL for the command line and the start-up bootstrap (`via` says which).
    .addColumn('actor_id', id)
    .addColumn('via', 'varchar(8)', (c) => c.notNull())
    .addColumn('action', 'varchar(48)', (c) => c.notNull())
    .addColumn('target_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('target_id', 'varchar(140)', (c) => c.notNull())
    .addColumn('reason', 'varchar(1000)', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_created_idx').on('audit_log').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('audit_log_actor_idx').on('audit_log').columns(['actor_id', 'created_at']).execute();
  await db.schema.createIndex('audit_log_target_idx').on('audit_log').columns(['target_id', 'created_at']).execute();
  await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'created_at']).execute();

  // One row per named lock; a transaction takes it by updating the row (a write lock on every engine).
  await db.schema
    .createTable('locks')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.insertInto('locks' as never).values({ name: 'admins', version: 0 } as never).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('locks').ifExists().execute();
  await db.schema.dropTable('audit_log').ifExists().execute();
  await db.schema.dropIndex('messages_created_idx').on('messages').ifExists().execute();
  await db.schema.alterTable('messages').dropColumn('removed_at').execute();
  await db.schema.alterTable('groups').dropColumn('disabled_reason').execute();
  await db.schema.alterTable('groups').dropColumn('disabled_at').execute();
  await db.schema.dropIndex('users_role_idx').on('users').ifExists().execute();
  await db.schema.alterTable('users').dropColumn('must_change_password').execute();
  await db.schema.alterTable('users').dropColumn('deleted_at').execute();
}
