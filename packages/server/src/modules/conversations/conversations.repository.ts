import { randomUUID } from 'node:crypto';
import { CompiledQuery, type Kysely, type Selectable, type Transaction } from 'kysely';
import { sqliteHandle, type Database } from '../../platform/db/database.js';
import { engineOf, supportsUpdateReturning } from '../../platform/db/dialects.js';
import { isDatabaseBusy } from '../../platform/db/errors.js';
import { preparedQuery } from '../../platform/db/prepared.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { DB, MessagesTable } from '../../platform/db/schema.js';
import type { DirectState } from './direct.cache.js';
import { messageValues, SqliteMessageStatements } from './sqlite-message-statements.js';

export type MessageRow = Selectable<MessagesTable>;

/** The kind of the timeline record a removal leaves (see RedactionMessageSchema in the protocol). */
export const REDACTION_KIND = 'redaction';

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
  /** Move the sender's read cursor to this message (default). Not for a redaction record. */
  moveSenderCursor?: boolean;
}

/**
 * Runs inside the storing transaction once the seq is known. It must await every statement it issues before it
 * settles: Kysely sends a failed transaction's ROLLBACK ahead of statements still queued in it.
 */
export type WithinStore = (trx: Transaction<DB>, seq: number) => Promise<void>;

/**
 * Assigns the conversation's next seq. The UPDATE takes the row's write lock, so concurrent senders queue on it
 * (PostgreSQL re-reads the committed row after the wait, InnoDB updates the latest version) and each reads back
 * its own value: one statement where the engine has UPDATE … RETURNING (SQLite, PostgreSQL), two on MySQL.
 * The same statement reads (and, for a change of cached state, bumps) `state_version`.
 */
async function bumpSeq(trx: Transaction<DB>, conversationId: string, now: number, bumpVersion: boolean): Promise<{ seq: number; version: number }> {
  const bump = bumpVersion ? nextSeqAndVersion : nextSeq;
  if (supportsUpdateReturning(trx)) {
    const row = (await bump.returning(trx, now, conversationId)).rows[0];
    if (!row) throw new Error(`conversation ${conversationId} vanished`);
    return { seq: Number(row.last_seq), version: Number(row.state_version) };
  }
  const bumped = await bump.plain(trx, now, conversationId);
  if (Number(bumped.numAffectedRows) !== 1) throw new Error(`conversation ${conversationId} vanished`);
  const row = (await seqAndVersion(trx, conversationId)).rows[0]!;
  return { seq: Number(row.last_seq), version: Number(row.state_version) };
}

/** The seq bump, prepared once (see preparedQuery): with RETURNING where the engine has it, plain on MySQL. */
function seqBump(bumpVersion: boolean) {
  const build = (db: Kysely<DB>, now: number, conversationId: string) =>
    db
      .updateTable('conversations')
      .set((eb) => ({
        last_seq: eb('last_seq', '+', 1),
        updated_at: now,
        ...(bumpVersion ? { state_version: eb('state_version', '+', 1) } : {}),
      }))
      .where('id', '=', conversationId);
  return {
    plain: preparedQuery(build),
    returning: preparedQuery((db: Kysely<DB>, now: number, conversationId: string) =>
      build(db, now, conversationId).returning(['last_seq', 'state_version']),
    ),
  };
}
const nextSeq = seqBump(false);
const nextSeqAndVersion = seqBump(true);
const seqAndVersion = preparedQuery((db: Kysely<DB>, conversationId: string) =>
  db.selectFrom('conversations').select(['last_seq', 'state_version']).where('id', '=', conversationId),
);

/** Bumps `state_version` inside a change's transaction (a change of cached state that stores no message). */
export async function bumpStateVersion(trx: Kysely<DB> | Transaction<DB>, conversationId: string): Promise<void> {
  await trx
    .updateTable('conversations')
    .set((eb) => ({ state_version: eb('state_version', '+', 1) }))
    .where('id', '=', conversationId)
    .execute();
}

/**
 * The cached state a store was checked against is older than the conversation's (another node changed it):
 * the transaction is rolled back with no seq used, and the caller reloads, re-checks and tries again.
 */
export class StaleStateError extends Error {
  constructor(readonly conversationId: string) {
    super(`cached state of ${conversationId} is stale`);
  }
}

export interface AppendOptions {
  within?: WithinStore | undefined;
  /** The `state_version` the caller's checks ran against; a different one in the database is a StaleStateError. */
  expectedVersion?: number | undefined;
  /** This message records a change of cached state (a group system message): bump `state_version` with it. */
  bumpVersion?: boolean | undefined;
}

/** The version after the bump must be the caller's (plus one when this message bumps it), else StaleStateError. */
function checkVersion(conversationId: string, { expectedVersion, bumpVersion = false }: AppendOptions, version: number): void {
  if (expectedVersion !== undefined && expectedVersion !== (bumpVersion ? version - 1 : version)) {
    throw new StaleStateError(conversationId);
  }
}

/**
 * Bump the seq (checking the state version the caller expects), insert the message, move the sender's read
 * cursor, then `within`: one message's statements.
 */
async function storeMessage(trx: Transaction<DB>, message: NewMessage, options: AppendOptions): Promise<{ seq: number; version: number }> {
  const { within, bumpVersion = false } = options;
  const { seq, version } = await bumpSeq(trx, message.conversationId, message.createdAt, bumpVersion);
  checkVersion(message.conversationId, options, version);
  await insertMessage(trx, ...messageValues(message, seq));
  if (message.moveSenderCursor !== false) await moveCursor(trx, seq, message.conversationId, message.senderId);
  // Group membership changes and mentions commit with their message; throwing here rolls back the seq too.
  if (within) await within(trx, seq);
  return { seq, version };
}

const insertMessage = preparedQuery(
  (
    db: Kysely<DB>,
    conversationId: string,
    seq: number,
    id: string,
    senderId: string,
    clientMsgId: string,
    kind: string,
    text: string | null,
    payload: string | null,
    contentHash: string,
    createdAt: number,
  ) =>
    db.insertInto('messages').values({
      conversation_id: conversationId,
      seq,
      id,
      sender_id: senderId,
      client_msg_id: clientMsgId,
      kind,
      text,
      payload,
      content_hash: contentHash,
      created_at: createdAt,
      removed_at: null,
    }),
);

const moveCursor = preparedQuery((db: Kysely<DB>, seq: number, conversationId: string, userId: string) =>
  db.updateTable('conversation_members').set({ read_seq: seq }).where('conversation_id', '=', conversationId).where('user_id', '=', userId),
);

const findByClientId = preparedQuery((db: Kysely<DB>, senderId: string, clientMsgId: string) =>
  db.selectFrom('messages').selectAll().where('sender_id', '=', senderId).where('client_msg_id', '=', clientMsgId),
);

const SAVEPOINT = CompiledQuery.raw('savepoint one_message');
const RELEASE = CompiledQuery.raw('release savepoint one_message');
const ROLLBACK_TO = CompiledQuery.raw('rollback to savepoint one_message');

/** Messages stored in one transaction at most (bounds the time one commit holds the database). */
const GROUP_COMMIT_MAX = 256;

interface PendingAppend {
  message: NewMessage;
  options: AppendOptions;
  resolve(stored: { seq: number; version: number }): void;
  reject(error: unknown): void;
}

type Outcome = { stored: { seq: number; version: number } } | { error: unknown };

/**
 * `storeMessage` on SQLite's own handle, synchronously (SqliteMessageStatements), without `within`: the same
 * checks and statements in the same order.
 */
function storeMessageNow(statements: SqliteMessageStatements, message: NewMessage, options: AppendOptions): { seq: number; version: number } {
  const next = statements.nextSeq(message.conversationId, message.createdAt, options.bumpVersion ?? false);
  if (!next) throw new Error(`conversation ${message.conversationId} vanished`);
  checkVersion(message.conversationId, options, next.version);
  statements.insert(message, next.seq);
  if (message.moveSenderCursor !== false) statements.moveCursor(message.conversationId, message.senderId, next.seq);
  return next;
}

/**
 * Group commit for SQLite. The first send's transaction starts after the current turn of the event loop, so the
 * sends read in that turn share it; sends that arrive while it runs wait and then go together in the next one,
 * each inside its own savepoint, so one refused send (a unique violation, a membership re-check) rolls back only
 * itself. Every send still resolves after the commit that made it durable, so an ack still means stored; a failed
 * commit rejects every send in it. Under load this turns one log sync per message into one per batch; alone, a
 * send waits one turn of the event loop.
 *
 * The statements run on SQLite's handle directly (SqliteMessageStatements). A batch of plain messages (nothing to
 * run `within` the store: one-to-one text) is stored in a transaction opened, filled and committed in one go,
 * without yielding, so nothing else can run on the connection in between. A batch with work `within` (group
 * messages, attachments) runs in a Kysely transaction, which holds the connection while that work awaits; its
 * savepoints go through that transaction's queue. A busy database fails the whole batch at once.
 */
class GroupCommit {
  private queue: PendingAppend[] = [];
  private draining = false;

  constructor(
    private readonly db: Database,
    private readonly statements: SqliteMessageStatements,
  ) {}

  append(message: NewMessage, options: AppendOptions): Promise<{ seq: number; version: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, options, resolve, reject });
      if (!this.draining) {
        // The first commit starts after this turn of the event loop: the sends read from the sockets in the same
        // turn (one poll of the network often brings many) go into it together.
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.commit(this.queue.splice(0, GROUP_COMMIT_MAX));
        // SQLite runs synchronously, so without this the next batch would run in the same chain of promise jobs:
        // the acks and deliveries of this batch would wait for it to finish, and no new frame would be read.
        // One turn of the event loop lets them out and lets more sends join the next batch.
        if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
    }
  }

  private async commit(batch: PendingAppend[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = this.canCommitAtOnce(batch) ? this.commitAtOnce(batch) : await this.commitInTransaction(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if ('stored' in outcome) item.resolve(outcome.stored);
      else item.reject(outcome.error);
    });
  }

  /** Nothing to await inside, and no transaction of Kysely's waiting on the connection. */
  private canCommitAtOnce(batch: PendingAppend[]): boolean {
    return !this.statements.inTransaction && batch.every((item) => !item.options.within);
  }

  private commitAtOnce(batch: PendingAppend[]): Outcome[] {
    const statements = this.statements;
    statements.begin();
    try {
      const outcomes = batch.map((item): Outcome => {
        statements.savepoint();
        try {
          const stored = storeMessageNow(statements, item.message, item.options);
          statements.release();
          return { stored };
        } catch (error) {
          if (this.failsTheBatch(error)) throw error;
          statements.rollbackToSavepoint();
          return { error };
        }
      });
      statements.commit();
      return outcomes;
    } catch (error) {
      statements.rollback();
      throw error;
    }
  }

  /**
   * The savepoints go through the transaction's queue (`trx.executeQuery`), behind any statement a `within` has
   * issued and not yet seen run, so each such statement lands inside its own message's savepoint.
   */
  private async commitInTransaction(batch: PendingAppend[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    await this.db.transaction().execute(async (trx) => {
      for (const item of batch) {
        await trx.executeQuery(SAVEPOINT);
        try {
          const stored = await this.store(trx, item);
          await trx.executeQuery(RELEASE);
          outcomes.push({ stored });
        } catch (error) {
          if (this.failsTheBatch(error)) throw error;
          await trx.executeQuery(ROLLBACK_TO);
          await trx.executeQuery(RELEASE);
          outcomes.push({ error });
        }
      }
    });
    return outcomes;
  }

  /**
   * A refusal of one message (a unique violation, a stale state, a membership re-check) rolls back only that
   * message; a failure of the database itself (busy, or a transaction SQLite already rolled back) fails the whole
   * batch at once instead of being met again, message after message.
   */
  private failsTheBatch(error: unknown): boolean {
    return isDatabaseBusy(error) || !this.statements.inTransaction;
  }

  private async store(trx: Transaction<DB>, { message, options }: PendingAppend): Promise<{ seq: number; version: number }> {
    // Behind the savepoint just awaited, nothing of this transaction is still queued: the raw statements run in it.
    const stored = storeMessageNow(this.statements, message, options);
    // Group membership changes and mentions commit with their message; throwing here rolls back the seq too.
    if (options.within) await options.within(trx, stored.seq);
    return stored;
  }
}

/** All SQL about conversations, memberships, messages and read cursors. */
export class ConversationRepository {
  private readonly groupCommit: GroupCommit | null;

  constructor(private readonly db: Database) {
    // SQLite has one writer, and each commit syncs the log: batching is the only way past one sync per message.
    // PostgreSQL and MySQL run transactions side by side over a pool and batch their log flushes themselves.
    const handle = engineOf(db) === 'sqlite' ? sqliteHandle(db) : null;
    this.groupCommit = handle ? new GroupCommit(db, new SqliteMessageStatements(handle)) : null;
  }

  findConversation(id: string) {
    return this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** A one-to-one conversation's participants, blocks and friendship, for DirectConversationCache. */
  async loadDirectState(conversationId: string): Promise<DirectState | null> {
    // The version first: a change committed while the rows are read makes the entry look older, never newer.
    const conversation = await this.db
      .selectFrom('conversations')
      .select(['kind', 'state_version'])
      .where('id', '=', conversationId)
      .executeTakeFirst();
    if (!conversation || conversation.kind !== 'direct') return null;
    const members = await this.db.selectFrom('conversation_members').select('user_id').where('conversation_id', '=', conversationId).execute();
    if (members.length !== 2) return null;
    const [a, b] = [members[0]!.user_id, members[1]!.user_id];
    const [blocks, friendship] = await Promise.all([
      this.db
        .selectFrom('blocks')
        .select(['blocker_id', 'blocked_id'])
        .where((eb) => eb.or([eb.and([eb('blocker_id', '=', a), eb('blocked_id', '=', b)]), eb.and([eb('blocker_id', '=', b), eb('blocked_id', '=', a)])]))
        .execute(),
      this.db.selectFrom('friendships').select('user_id').where('user_id', '=', a).where('friend_id', '=', b).executeTakeFirst(),
    ]);
    return {
      conversationId,
      version: Number(conversation.state_version),
      memberIds: [a, b],
      blocks: new Set(blocks.map((r) => `${r.blocker_id}:${r.blocked_id}`)),
      friends: friendship !== undefined,
    };
  }

  /** Read before the rows a cache entry holds, so a change committed in between makes the entry look older. */
  async stateVersion(conversationId: string): Promise<number | null> {
    const row = await this.db.selectFrom('conversations').select('state_version').where('id', '=', conversationId).executeTakeFirst();
    return row ? Number(row.state_version) : null;
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

  async findMessageByClientId(senderId: string, clientMsgId: string): Promise<MessageRow | undefined> {
    return (await findByClientId(this.db, senderId, clientMsgId)).rows[0];
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
   * and never skipped, across restarts and crashes (design notes §3). Refuses (StaleStateError) when the
   * conversation's state_version is not the one the caller checked against. On SQLite, sends that arrive while a commit
   * is running share the next transaction (see GroupCommit); each still resolves only after its commit.
   */
  appendMessage(message: NewMessage, options: AppendOptions = {}): Promise<{ seq: number; version: number }> {
    if (this.groupCommit) return this.groupCommit.append(message, options);
    return inTransaction(this.db, (trx) => storeMessage(trx, message, options));
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

  /**
   * Messages after the read cursor not sent by the user. Removed messages (tombstones) and redaction records are
   * not counted, so a removal lowers the count of everyone who had not read the message (BR-09).
   */
  async countUnread(conversationId: string, userId: string, readSeq: number, untilSeq = Number.MAX_SAFE_INTEGER): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', readSeq)
      .where('seq', '<=', untilSeq)
      .where('sender_id', '!=', userId)
      .where('removed_at', 'is', null)
      .where('kind', '!=', REDACTION_KIND)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** The conversation's last message up to `untilSeq` for the list preview: redaction records are skipped. */
  lastVisibleMessage(conversationId: string, untilSeq: number): Promise<MessageRow | undefined> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '<=', untilSeq)
      .where('kind', '!=', REDACTION_KIND)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * Turns a message into a tombstone inside the removal's transaction: content cleared, mentions dropped, the row
   * and its seq kept. Returns false when it was already removed (a concurrent removal won).
   */
  async markRemoved(trx: Transaction<DB>, conversationId: string, seq: number, now: number): Promise<boolean> {
    const result = await trx
      .updateTable('messages')
      .set({ removed_at: now, text: null, payload: null })
      .where('conversation_id', '=', conversationId)
      .where('seq', '=', seq)
      .where('removed_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await trx.deleteFrom('message_mentions').where('conversation_id', '=', conversationId).where('seq', '=', seq).execute();
    return true;
  }

  /** Every member id of a conversation (a direct conversation's two people), read in the caller's transaction. */
  async memberIds(trx: Kysely<DB> | Transaction<DB>, conversationId: string): Promise<string[]> {
    const rows = await trx.selectFrom('conversation_members').select('user_id').where('conversation_id', '=', conversationId).execute();
    return rows.map((r) => r.user_id);
  }

  /** Users whose readable history includes `seq` (current members, and departed group members who saw it). */
  async viewersOf(trx: Kysely<DB> | Transaction<DB>, conversationId: string, seq: number): Promise<string[]> {
    const rows = await trx
      .selectFrom('conversation_members')
      .select('user_id')
      .where('conversation_id', '=', conversationId)
      .where('visible_from_seq', '<', seq)
      .where((eb) => eb.or([eb('visible_until_seq', 'is', null), eb('visible_until_seq', '>=', seq)]))
      .execute();
    return rows.map((r) => r.user_id);
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
