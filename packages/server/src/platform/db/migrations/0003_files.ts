import { sql, type Kysely } from 'kysely';

/**
 * Files and media (issue 4). `files` is both the upload session (status uploading / processing, with the
 * store's multipart id, the bytes received and a one-writer lease) and the stored file (status ready); every
 * object in the blob store belongs to a row here, written before the object and removed after it, so a sweep
 * over the rows finds everything to delete. `file_parts` keeps the ETag of each stored part (any node can
 * complete the upload); `file_attachments` ties a file to the message that carries it, for access checks.
 * Avatars: users gain an `avatar` (file id, '' when none); groups keep their `avatar` column, now a file id
 * too (earlier free-text values were never uploads and are cleared). Portable types only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const id = 'varchar(64)';
  await db.schema
    .createTable('files')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('owner_id', id, (c) => c.notNull().references('users.id'))
    .addColumn('purpose', 'varchar(16)', (c) => c.notNull())
    // uploading | processing | ready | deleting
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(1024)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('received', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('part_size', 'bigint', (c) => c.notNull())
    .addColumn('mime', 'varchar(128)', (c) => c.notNull().defaultTo(''))
    .addColumn('sha256', 'varchar(64)')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('thumb_width', 'integer')
    .addColumn('thumb_height', 'integer')
    .addColumn('storage_key', 'varchar(140)', (c) => c.notNull())
    .addColumn('multipart_id', 'varchar(1024)')
    // The request writing a part (or completing the upload) holds the row until writer_until.
    .addColumn('writer', id)
    .addColumn('writer_until', 'bigint')
    .addColumn('expires_at', 'bigint')
    .addColumn('released_at', 'bigint')
    .addColumn('completed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('files_owner_idx').on('files').columns(['owner_id', 'status']).execute();
  await db.schema.createIndex('files_status_expiry_idx').on('files').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('files_released_idx').on('files').column('released_at').execute();

  await db.schema
    .createTable('file_parts')
    .addColumn('file_id', id, (c) => c.notNull())
    .addColumn('part_number', 'integer', (c) => c.notNull())
    .addColumn('etag', 'varchar(128)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('file_parts_pk', ['file_id', 'part_number'])
    .execute();

  await db.schema
    .createTable('file_attachments')
    .addColumn('conversation_id', id, (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('file_id', id, (c) => c.notNull())
    .addPrimaryKeyConstraint('file_attachments_pk', ['conversation_id', 'seq'])
    .execute();
  await db.schema.createIndex('file_attachments_file_idx').on('file_attachments').column('file_id').execute();

  await db.schema.alterTable('users').addColumn('avatar', 'varchar(64)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.createIndex('users_avatar_idx').on('users').column('avatar').execute();
  await sql`UPDATE ${sql.table('groups')} SET avatar = ''`.execute(db);
  await db.schema.createIndex('groups_avatar_idx').on('groups').column('avatar').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('groups_avatar_idx').on('groups').execute();
  await db.schema.dropIndex('users_avatar_idx').on('users').execute();
  await db.schema.alterTable('users').dropColumn('avatar').execute();
  await db.schema.dropTable('file_attachments').ifExists().execute();
  await db.schema.dropTable('file_parts').ifExists().execute();
  await db.schema.dropTable('files').ifExists().execute();
}
