import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/database.js';
import { engineOf, supportsUpdateReturning } from '../../platform/db/dialects.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { DB, MessagesTable } from '../../platform/db/schema.js';

export type MessageRow = Selectable<MessagesTable>;

/**
 * Returns the direct conversation of two users, creating it (with both memberships) when missing. Runs inside
 * the caller's transaction so that a friendship and its conversation appear together.
 */
export async function ensureDirectConversation(trx: Kysely<DB> | Transaction<DB>, a: string, b: string, now: number): Promise<string> {
  const directKey = [a, b].sort().join(':');
  const existing = await trx.selectFrom('conversations').select('id').where('direct_key', '=', directKey).executeTakeFirst();
  if (existing) return existing.id;
  const id = randomUUID();
  await trx
    .insertInto('conversations')
    .values({ id, kind: 'direct', direct_key: directKey, last_seq: 0, created_at: now, updated_at: now })
    .execute();
  await trx
    .insertInto('conversation_members')
    .values([
      { conversation_id: id, user_id: a, read_seq: 0, joined_at: now },
      { conversation_id: id, user_id: b, read_seq: 0, joined_at: now },
    ])
    .execute();
  return id;
}

export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  clientMsgId: string;
  kind: string;
  text: string | null;
  payload: string | null;
  contentHash: string;
  createdAt: number;
}

/** Runs inside the storing transaction once the seq is known. */
export type WithinStore = (trx: Transaction<DB>, seq: number) => Promise<void>;

/**
 * Assigns the conversation's next seq. The UPDATE takes the row's write lock, so concurrent senders queue on it
 * (PostgreSQL re-reads the committed row after the wait, InnoDB updates the latest version) and each reads back
 * its own value: one statement where the engine has UPDATE … RETURNING (SQLite, PostgreSQL), two on MySQL.
 */
async function bumpSeq(trx: Transaction<DB>, conversationId: string, now: number): Promise<number> {
  const bump = trx
    .updateTable('conversations')
    .set((eb) => ({ last_seq: eb('last_seq', '+', 1), updated_at: now }))
    .where('id', '=', conversationId);
  if (supportsUpdateReturning(trx)) {
    const row = await bump.returning('last_seq').executeTakeFirst();
    if (!row) throw new Error(`conversation ${conversationId} vanished`);
    return Number(row.last_seq);
  }
  const bumped = await bump.executeTakeFirst();
  if (Number(bumped.numUpdatedRows) !== 1) throw new Error(`conversation ${conversationId} vanished`);
  const { last_seq } = await trx.selectFrom('conversations').select('last_seq').where('id', '=', conversationId).executeTakeFirstOrThrow();
  return Number(last_seq);
}

/** Bump the seq, insert the message, move the sender's read cursor, then `within`: one message's statements. */
async function storeMessage(trx: Transaction<DB>, message: NewMessage, within?: WithinStore): Promise<number> {
  const seq = await bumpSeq(trx, message.conversationId, message.createdAt);
  await trx
    .insertInto('messages')
    .values({
      conversation_id: message.conversationId,
      seq,
      id: message.id,
      sender_id: message.senderId,
      client_msg_id: message.clientMsgId,
      kind: message.kind,
      text: message.text,
      payload: message.payload,
      content_hash: message.contentHash,
      created_at: message.createdAt,
    })
    .execute();
  await trx
    .updateTable('conversation_members')
    .set({ read_seq: seq })
    .where('conversation_id', '=', message.conversationId)
    .where('user_id', '=', message.senderId)
    .execute();
  // Group membership changes and mentions commit with their message; throwing here rolls back the seq too.
  if (within) await within(trx, seq);
  return seq;
}

/** Messages stored in one transaction at most (bounds the time one commit holds the database). */
const GROUP_COMMIT_MAX = 256;

interface PendingAppend {
  message: NewMessage;
  within: WithinStore | undefined;
  resolve(seq: number): void;
  reject(error: unknown): void;
}

/**
 * Group commit for SQLite. The first send starts its transaction at once; sends that arrive while it runs wait
 * and then go together in the next one, each inside its own savepoint, so one refused send (a unique violation,
 * a membership re-check) rolls back only itself. Every send still resolves after the commit that made it
 * durable, so an ack still means stored; a failed commit rejects every send in it. Under load this turns one
 * log sync per message into one per batch; alone, a send waits for nothing.
 */
class GroupCommit {
  private queue: PendingAppend[] = [];
  private draining = false;

  constructor(private readonly db: Database) {}

  append(message: NewMessage, within: WithinStore | undefined): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, within, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.commit(this.queue.splice(0, GROUP_COMMIT_MAX));
    } finally {
      this.draining = false;
    }
  }

  private async commit(batch: PendingAppend[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [PendingAppend];
      await this.db.transaction().execute((trx) => storeMessage(trx, only.message, only.within)).then(only.resolve, only.reject);
      return;
    }
    const outcomes: ({ seq: number } | { error: unknown })[] = [];
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const item of batch) {
          await sql`savepoint one_message`.execute(trx);
          try {
            const seq = await storeMessage(trx, item.message, item.within);
            await sql`release one_message`.execute(trx);
            outcomes.push({ seq });
          } catch (error) {
            await sql`rollback to one_message`.execute(trx);
            await sql`release one_message`.execute(trx);
            outcomes.push({ error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if ('seq' in outcome) item.resolve(outcome.seq);
      else item.reject(outcome.error);
    });
  }
}

/** All SQL about conversations, memberships, messages and read cursors. */
export class ConversationRepository {
  private readonly groupCommit: GroupCommit | null;

  constructor(private readonly db: Database) {
    // SQLite has one writer, and each commit syncs the log: batching is the only way past one sync per message.
    // PostgreSQL and MySQL run transactions side by side over a pool and batch their log flushes themselves.
    this.groupCommit = engineOf(db) === 'sqlite' ? new GroupCommit(db) : null;
  }

  findConversation(id: string) {
    return this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** One member row (current or departed): the group paths read only the viewer's own row. */
  member(conversationId: string, userId: string) {
    return this.db
      .selectFrom('conversation_members')
      .select(['user_id', 'read_seq', 'role', 'muted_until', 'left_at', 'left_reason', 'visible_from_seq', 'visible_until_seq'])
      .where('conversation_id', '=', conversationId)
      .where('user_id', '=', userId)
      .execute();
  }

  members(conversationId: string) {
    return this.db
      .selectFrom('conversation_members')
      .select(['user_id', 'read_seq', 'role', 'muted_until', 'left_at', 'left_reason', 'visible_from_seq', 'visible_until_seq'])
      .where('conversation_id', '=', conversationId)
      .execute();
  }

  /** The member ids of a direct conversation (empty when there is no such direct conversation). */
  async directMembers(conversationId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('conversation_members as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .select('m.user_id')
      .where('m.conversation_id', '=', conversationId)
      .where('c.kind', '=', 'direct')
      .execute();
    return rows.map((row) => row.user_id);
  }

  /** The user's memberships with each conversation's state, newest activity first. */
  listForUser(userId: string) {
    return this.db
      .selectFrom('conversation_members as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .select(['c.id', 'c.kind', 'c.last_seq', 'c.updated_at', 'm.read_seq'])
      .where('m.user_id', '=', userId)
      .orderBy('c.updated_at', 'desc')
      .execute();
  }

  findMessageByClientId(senderId: string, clientMsgId: string): Promise<MessageRow | undefined> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('sender_id', '=', senderId)
      .where('client_msg_id', '=', clientMsgId)
      .executeTakeFirst();
  }

  findMessage(conversationId: string, seq: number): Promise<MessageRow | undefined> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '=', seq)
      .executeTakeFirst();
  }

  /**
   * Stores a message under the conversation's next seq, in one transaction: bump the counter, insert the row,
   * move the sender's own read cursor. The counter lives in the database row, so a seq is never assigned twice
   * and never skipped, across restarts and crashes (design notes §3). On SQLite, sends that arrive while a commit
   * is running share the next transaction (see GroupCommit); each still resolves only after its commit.
   */
  appendMessage(message: NewMessage, within?: WithinStore): Promise<number> {
    if (this.groupCommit) return this.groupCommit.append(message, within);
    return inTransaction(this.db, (trx) => storeMessage(trx, message, within));
  }

  /** Messages with after < seq < before, oldest first, at most `limit` from the `from` end. */
  async page(conversationId: string, range: { after: number; before: number; limit: number; from: 'oldest' | 'newest' }) {
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', range.after)
      .where('seq', '<', range.before)
      .orderBy('seq', range.from === 'oldest' ? 'asc' : 'desc')
      .limit(range.limit + 1)
      .execute();
    const hasMore = rows.length > range.limit;
    const page = rows.slice(0, range.limit);
    if (range.from === 'newest') page.reverse();
    return { rows: page, hasMore };
  }

  async earliestSeq(conversationId: string): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.min('seq').as('min'))
      .where('conversation_id', '=', conversationId)
      .executeTakeFirst();
    return row?.min === null || row?.min === undefined ? 0 : Number(row.min);
  }

  async countUnread(conversationId: string, userId: string, readSeq: number, untilSeq = Number.MAX_SAFE_INTEGER): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', readSeq)
      .where('seq', '<=', untilSeq)
      .where('sender_id', '!=', userId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Moves a read cursor forward only; returns false when it was already at or past `seq`. */
  async advanceReadCursor(conversationId: string, userId: string, seq: number): Promise<boolean> {
    const result = await this.db
      .updateTable('conversation_members')
      .set({ read_seq: seq })
      .where('conversation_id', '=', conversationId)
      .where('user_id', '=', userId)
      .where('read_seq', '<', seq)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
