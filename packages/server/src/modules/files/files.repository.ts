import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { DB, FilesTable } from '../../platform/db/schema.js';

export type FileRow = Selectable<FilesTable>;

/** All SQL about files, upload parts and attachments. */
export class FileRepository {
  constructor(private readonly db: Database) {}

  async insert(row: Insertable<FilesTable>): Promise<void> {
    await this.db.insertInto('files').values(row).execute();
  }

  async setMultipartId(id: string, multipartId: string, now: number): Promise<void> {
    await this.db.updateTable('files').set({ multipart_id: multipartId, updated_at: now }).where('id', '=', id).execute();
  }

  find(id: string): Promise<FileRow | undefined> {
    return this.db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findReady(ids: readonly string[]): Promise<FileRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('files').selectAll().where('id', 'in', ids).where('status', '=', 'ready').execute();
  }

  async countPending(ownerId: string): Promise<number> {
    const row = await this.db
      .selectFrom('files')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('owner_id', '=', ownerId)
      .where('status', 'in', ['uploading', 'processing'])
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Takes the one-writer lease of an upload for the part that starts at `received` (compare-and-set, so it holds
   * across nodes). False when the upload moved on, is not uploading, or another live writer holds it.
   */
  async claimPart(id: string, token: string, received: number, until: number, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('files')
      .set({ writer: token, writer_until: until })
      .where('id', '=', id)
      .where('status', '=', 'uploading')
      .where('received', '=', received)
      .where((eb) => eb.or([eb('writer', 'is', null), eb('writer_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async renewLease(id: string, token: string, until: number): Promise<void> {
    await this.db.updateTable('files').set({ writer_until: until }).where('id', '=', id).where('writer', '=', token).execute();
  }

  async releaseLease(id: string, token: string): Promise<void> {
    await this.db.updateTable('files').set({ writer: null, writer_until: null }).where('id', '=', id).where('writer', '=', token).execute();
  }

  /** Records a stored part and moves `received`, if the lease is still ours. */
  async recordPart(id: string, token: string, part: { partNumber: number; etag: string; size: number }, received: number, now: number): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      const moved = await trx
        .updateTable('files')
        .set({ received, writer: null, writer_until: null, updated_at: now })
        .where('id', '=', id)
        .where('writer', '=', token)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
      await trx.deleteFrom('file_parts').where('file_id', '=', id).where('part_number', '=', part.partNumber).execute();
      await trx.insertInto('file_parts').values({ file_id: id, part_number: part.partNumber, etag: part.etag, size: part.size }).execute();
      return true;
    });
  }

  parts(id: string) {
    return this.db.selectFrom('file_parts').select(['part_number', 'etag', 'size']).where('file_id', '=', id).orderBy('part_number').execute();
  }

  /** Takes the upload for completion: every byte received, no live writer (a crashed completion's lease expired). */
  async claimCompletion(id: string, token: string, until: number, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('files')
      .set({ status: 'processing', writer: token, writer_until: until })
      .where('id', '=', id)
      .where('status', 'in', ['uploading', 'processing'])
      .where((eb) => eb('received', '=', eb.ref('size')))
      .where((eb) => eb.or([eb('writer', 'is', null), eb('writer_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async markReady(id: string, token: string, fields: Partial<Insertable<FilesTable>>, now: number): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      const result = await trx
        .updateTable('files')
        .set({ ...fields, status: 'ready', writer: null, writer_until: null, multipart_id: null, expires_at: null, completed_at: now, released_at: now, updated_at: now })
        .where('id', '=', id)
        .where('writer', '=', token)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx.deleteFrom('file_parts').where('file_id', '=', id).execute();
      return true;
    });
  }

  /** Removes the row and its parts (its objects are already gone). */
  async remove(id: string): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('file_parts').where('file_id', '=', id).execute();
      await trx.deleteFrom('files').where('id', '=', id).execute();
    });
  }

  /** Marks an upload for deletion (cancel, blocked content) unless another request holds it. */
  async markUploadDeleting(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('files')
      .set({ status: 'deleting', updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', ['uploading', 'processing'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * In the message's transaction: the file becomes referenced (no longer a sweep candidate) and attached at
   * (conversation, seq). False when it is not the sender's ready attachment any more (the sweep got it first).
   */
  async attach(trx: Transaction<DB>, fileId: string, ownerId: string, conversationId: string, seq: number): Promise<boolean> {
    const claimed = await trx
      .updateTable('files')
      .set({ released_at: null })
      .where('id', '=', fileId)
      .where('owner_id', '=', ownerId)
      .where('status', '=', 'ready')
      .where('purpose', '=', 'attachment')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return false;
    await trx.insertInto('file_attachments').values({ conversation_id: conversationId, seq, file_id: fileId }).execute();
    return true;
  }

  /**
   * The subset of `fileIds` attached to a message that `userId` may read: a message inside the user's visible
   * range of its conversation (visible_from_seq < seq <= visible_until_seq).
   */
  async visibleAttachments(userId: string, fileIds: readonly string[]): Promise<Set<string>> {
    if (fileIds.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('file_attachments as a')
      .innerJoin('conversation_members as m', (join) => join.onRef('m.conversation_id', '=', 'a.conversation_id').on('m.user_id', '=', userId))
      .select('a.file_id')
      .where('a.file_id', 'in', fileIds)
      .whereRef('a.seq', '>', 'm.visible_from_seq')
      .where((eb) => eb.or([eb('m.visible_until_seq', 'is', null), eb('a.seq', '<=', eb.ref('m.visible_until_seq'))]))
      .execute();
    return new Set(rows.map((r) => r.file_id));
  }

  /** An avatar (or other) file becomes referenced; false when it is not the owner's ready file of that purpose. */
  async claim(fileId: string, ownerId: string, purpose: string): Promise<boolean> {
    const result = await this.db
      .updateTable('files')
      .set({ released_at: null })
      .where('id', '=', fileId)
      .where('owner_id', '=', ownerId)
      .where('status', '=', 'ready')
      .where('purpose', '=', purpose)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Starts the unreferenced clock of files something stopped referring to (the sweep re-checks references). */
  async release(fileIds: readonly string[], now: number, trx: Kysely<DB> | Transaction<DB> = this.db): Promise<void> {
    if (fileIds.length === 0) return;
    await trx.updateTable('files').set({ released_at: now }).where('id', 'in', fileIds).where('released_at', 'is', null).execute();
  }

  /** Drops the attachment rows of removed messages and returns the files they referred to. */
  async detach(conversationId: string, seqs: readonly number[], trx: Kysely<DB> | Transaction<DB> = this.db): Promise<string[]> {
    if (seqs.length === 0) return [];
    const rows = await trx
      .selectFrom('file_attachments')
      .select('file_id')
      .where('conversation_id', '=', conversationId)
      .where('seq', 'in', seqs)
      .execute();
    await trx.deleteFrom('file_attachments').where('conversation_id', '=', conversationId).where('seq', 'in', seqs).execute();
    return rows.map((r) => r.file_id);
  }

  // ---- cleanup ----

  /** Uploads past their expiry that no live request holds. */
  expiredUploads(now: number, limit: number) {
    return this.db
      .selectFrom('files')
      .select('id')
      .where('status', 'in', ['uploading', 'processing'])
      .where('expires_at', '<', now)
      .where((eb) => eb.or([eb('writer', 'is', null), eb('writer_until', '<', now)]))
      .limit(limit)
      .execute();
  }

  async markExpiredDeleting(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('files')
      .set({ status: 'deleting', updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', ['uploading', 'processing'])
      .where('expires_at', '<', now)
      .where((eb) => eb.or([eb('writer', 'is', null), eb('writer_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  releasedBefore(cutoff: number, limit: number) {
    return this.db.selectFrom('files').select('id').where('status', '=', 'ready').where('released_at', '<', cutoff).limit(limit).execute();
  }

  /** Marks a file for deletion only if nothing refers to it: no attachment, no user or group avatar. */
  async markUnreferencedDeleting(id: string, cutoff: number, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('files')
      .set({ status: 'deleting', updated_at: now })
      .where('id', '=', id)
      .where('status', '=', 'ready')
      .where('released_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('file_attachments')
              .select('file_attachments.file_id')
              .where('file_attachments.file_id', '=', id),
          ),
        ),
      )
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('users').select('users.id').where('users.avatar', '=', id))))
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('groups').select('groups.conversation_id').where('groups.avatar', '=', id))),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  deleting(limit: number): Promise<FileRow[]> {
    return this.db.selectFrom('files').selectAll().where('status', '=', 'deleting').limit(limit).execute();
  }

  /** Which of these store upload ids a row records (the others are orphans of a crash). */
  async knownMultipartIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('files').select('multipart_id').where('multipart_id', 'in', ids).execute();
    return new Set(rows.map((r) => r.multipart_id ?? ''));
  }

  /** Files of an account that nobody else's history holds: its avatar, unfinished uploads, unattached files. */
  async purgeableOf(ownerId: string, trx: Kysely<DB> | Transaction<DB> = this.db): Promise<string[]> {
    const rows = await trx
      .selectFrom('files')
      .select('id')
      .where('owner_id', '=', ownerId)
      .where((eb) =>
        eb.or([
          eb('status', 'in', ['uploading', 'processing']),
          eb('purpose', '=', 'avatar'),
          eb.not(eb.exists(eb.selectFrom('file_attachments').select('file_attachments.file_id').whereRef('file_attachments.file_id', '=', 'files.id'))),
        ]),
      )
      .execute();
    return rows.map((r) => r.id);
  }

  async markDeleting(ids: readonly string[], now: number, trx: Kysely<DB> | Transaction<DB> = this.db): Promise<void> {
    if (ids.length === 0) return;
    await trx.updateTable('files').set({ status: 'deleting', updated_at: now }).where('id', 'in', ids).execute();
  }

  /** Bytes of the stored files (ready ones; thumbnails not counted): the admin dashboard's storage figure. */
  async usedBytes(): Promise<number> {
    const row = await this.db
      .selectFrom('files')
      .select((eb) => eb.fn.sum<number | string | null>('size').as('bytes'))
      .where('status', '=', 'ready')
      .executeTakeFirst();
    return Number(row?.bytes ?? 0);
  }
}
