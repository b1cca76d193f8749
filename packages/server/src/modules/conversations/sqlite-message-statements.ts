import type SQLite from 'better-sqlite3';
import type { NewMessage } from './conversations.repository.js';

/**
 * A message's column values in the order of both insert statements (the Kysely one in conversations.repository.ts
 * and the one here): conversation_id, seq, id, sender_id, client_msg_id, kind, text, payload, content_hash,
 * created_at.
 */
export function messageValues(message: NewMessage, seq: number) {
  return [
    message.conversationId,
    seq,
    message.id,
    message.senderId,
    message.clientMsgId,
    message.kind,
    message.text,
    message.payload,
    message.contentHash,
    message.createdAt,
  ] as const;
}

/**
 * The statements of one stored message, prepared on SQLite's own connection handle and run synchronously: the
 * group commit's path (conversations.repository.ts). Through Kysely each statement costs a query pipeline of
 * several promises on top of SQLite's own work; these cost the work. The SQL is the same as the Kysely queries of
 * `storeMessage` (the PostgreSQL and MySQL path), which the data-layer contract suite runs on all three engines.
 *
 * Only the group commit may use them, and only where nothing else can run on the connection in between: inside a
 * transaction it holds through Kysely, or in a transaction it opens, runs and ends without yielding.
 */
export class SqliteMessageStatements {
  private readonly beginStatement: SQLite.Statement;
  private readonly commitStatement: SQLite.Statement;
  private readonly rollbackStatement: SQLite.Statement;
  private readonly savepointStatement: SQLite.Statement;
  private readonly releaseStatement: SQLite.Statement;
  private readonly rollbackToStatement: SQLite.Statement;
  private readonly bumpStatement: SQLite.Statement<[number, string], { last_seq: number; state_version: number }>;
  private readonly bumpWithVersionStatement: SQLite.Statement<[number, string], { last_seq: number; state_version: number }>;
  private readonly insertStatement: SQLite.Statement<unknown[]>;
  private readonly cursorStatement: SQLite.Statement<[number, string, string]>;

  constructor(private readonly handle: SQLite.Database) {
    this.beginStatement = handle.prepare('begin');
    this.commitStatement = handle.prepare('commit');
    this.rollbackStatement = handle.prepare('rollback');
    this.savepointStatement = handle.prepare('savepoint one_message');
    this.releaseStatement = handle.prepare('release savepoint one_message');
    this.rollbackToStatement = handle.prepare('rollback to savepoint one_message');
    const bump = 'update "conversations" set "last_seq" = "last_seq" + 1, "updated_at" = ?';
    const returning = 'where "id" = ? returning "last_seq", "state_version"';
    this.bumpStatement = handle.prepare(`${bump} ${returning}`);
    this.bumpWithVersionStatement = handle.prepare(`${bump}, "state_version" = "state_version" + 1 ${returning}`);
    this.insertStatement = handle.prepare(
      'insert into "messages" ("conversation_id", "seq", "id", "sender_id", "client_msg_id", "kind", "text", "payload", ' +
        '"content_hash", "created_at", "removed_at") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)',
    );
    this.cursorStatement = handle.prepare('update "conversation_members" set "read_seq" = ? where "conversation_id" = ? and "user_id" = ?');
  }

  /** True while a transaction is open on the connection (one of Kysely's, waiting between its statements). */
  get inTransaction(): boolean {
    return this.handle.inTransaction;
  }

  begin(): void {
    this.beginStatement.run();
  }

  commit(): void {
    this.commitStatement.run();
  }

  rollback(): void {
    if (this.handle.inTransaction) this.rollbackStatement.run();
  }

  savepoint(): void {
    this.savepointStatement.run();
  }

  release(): void {
    this.releaseStatement.run();
  }

  /** Undoes everything since the savepoint and ends it. */
  rollbackToSavepoint(): void {
    this.rollbackToStatement.run();
    this.releaseStatement.run();
  }

  /** Takes the conversation's next seq (and bumps its state version when asked); null when it does not exist. */
  nextSeq(conversationId: string, now: number, bumpVersion: boolean): { seq: number; version: number } | null {
    const row = (bumpVersion ? this.bumpWithVersionStatement : this.bumpStatement).get(now, conversationId);
    return row ? { seq: Number(row.last_seq), version: Number(row.state_version) } : null;
  }

  insert(message: NewMessage, seq: number): void {
    this.insertStatement.run(...messageValues(message, seq));
  }

  moveCursor(conversationId: string, userId: string, seq: number): void {
    this.cursorStatement.run(seq, conversationId, userId);
  }
}
