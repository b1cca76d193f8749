import type { Insertable, Selectable } from 'kysely';
import type { Database } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { SessionsTable } from '../../platform/db/schema.js';

export type SessionRow = Selectable<SessionsTable>;

/** All SQL about sessions and refresh tokens. */
export class AuthRepository {
  constructor(private readonly db: Database) {}

  /** Deletes refresh tokens that expired before `before` (they can no longer be used or replayed). */
  async purgeExpiredRefreshTokens(before: number): Promise<number> {
    const result = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async createSession(
    session: Insertable<SessionsTable>,
    refresh: { tokenHash: string; expiresAt: number },
  ): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      await trx.insertInto('sessions').values(session).execute();
      await trx
        .insertInto('refresh_tokens')
        .values({
          token_hash: refresh.tokenHash,
          session_id: session.id,
          created_at: session.created_at,
          expires_at: refresh.expiresAt,
          used_at: null,
        })
        .execute();
    });
  }

  findSession(id: string): Promise<SessionRow | undefined> {
    return this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findRefreshToken(tokenHash: string) {
    return this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /**
   * Marks `oldHash` used and stores its replacement, atomically. Returns false when the old token had been
   * used already (a concurrent refresh won): the caller treats that as reuse.
   */
  async rotateRefreshToken(
    sessionId: string,
    oldHash: string,
    next: { tokenHash: string; expiresAt: number },
    now: number,
  ): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      const result = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', oldHash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx
        .insertInto('refresh_tokens')
        .values({ token_hash: next.tokenHash, session_id: sessionId, created_at: now, expires_at: next.expiresAt, used_at: null })
        .execute();
      await trx.updateTable('sessions').set({ last_used_at: now, expires_at: next.expiresAt }).where('id', '=', sessionId).execute();
      return true;
    });
  }

  listActiveSessions(userId: string, now: number): Promise<SessionRow[]> {
    return this.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('last_used_at', 'desc')
      .execute();
  }

  /** Revokes sessions and returns the ids that were active. */
  async revokeSessions(ids: readonly string[], reason: string, now: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const active = await this.db
      .selectFrom('sessions')
      .select('id')
      .where('id', 'in', ids)
      .where('revoked_at', 'is', null)
      .execute();
    if (active.length === 0) return [];
    const activeIds = active.map((r) => r.id);
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('id', 'in', activeIds)
      .execute();
    return activeIds;
  }

  async otherActiveSessionIds(userId: string, exceptSessionId: string | null, now: number): Promise<string[]> {
    const rows = await this.listActiveSessions(userId, now);
    return rows.map((r) => r.id).filter((id) => id !== exceptSessionId);
  }
}
