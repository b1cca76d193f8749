import { type Insertable, sql } from 'kysely';
import type { Database } from '../../platform/db/database.js';
import type { UsersTable } from '../../platform/db/schema.js';
import { PUBLIC_USER_COLUMNS, type UserRow } from './users.mapper.js';

/** All SQL about users. */
export class UserRepository {
  constructor(private readonly db: Database) {}

  async insert(row: Insertable<UsersTable>): Promise<void> {
    await this.db.insertInto('users').values(row).execute();
  }

  findById(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByUsername(username: string): Promise<UserRow | undefined> {
    return this.db
      .selectFrom('users')
      .selectAll()
      .where('username_norm', '=', username.toLowerCase())
      .executeTakeFirst();
  }

  findPublicByIds(ids: readonly string[]) {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('users').select(PUBLIC_USER_COLUMNS).where('id', 'in', ids).execute();
  }

  /** Users whose username or display name contains `query` (case-insensitive), exact username first. */
  async search(query: string, limit: number) {
    const needle = query.toLowerCase();
    const pattern = `%${escapeLike(needle)}%`;
    const rows = await this.db
      .selectFrom('users')
      .select([...PUBLIC_USER_COLUMNS, 'username_norm'])
      .where('disabled_at', 'is', null)
      .where((eb) =>
        eb.or([
          sql<boolean>`username_norm LIKE ${pattern} ESCAPE '!'`,
          sql<boolean>`lower(display_name) LIKE ${pattern} ESCAPE '!'`,
        ]),
      )
      .orderBy('username_norm')
      .limit(limit * 4)
      .execute();
    // Rank in memory (the candidate set is small): exact match, then prefix, then anywhere.
    const rank = (r: (typeof rows)[number]) =>
      r.username_norm === needle ? 0 : r.username_norm.startsWith(needle) ? 1 : 2;
    return rows.sort((a, b) => rank(a) - rank(b)).slice(0, limit);
  }

  async updateProfile(id: string, changes: { display_name?: string; bio?: string; avatar?: string }, now: number): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ ...changes, updated_at: now })
      .where('id', '=', id)
      .execute();
  }

  async updatePasswordHash(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db.updateTable('users').set({ password_hash: passwordHash, updated_at: now }).where('id', '=', id).execute();
  }

  /** A new password chosen by the user, which also ends an administrator's forced change. */
  async replacePassword(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ password_hash: passwordHash, must_change_password: 0, updated_at: now })
      .where('id', '=', id)
      .execute();
  }

  async setLastSeen(id: string, at: number): Promise<void> {
    await this.db.updateTable('users').set({ last_seen_at: at }).where('id', '=', id).execute();
  }

  async lastSeen(ids: readonly string[]): Promise<Map<string, number | null>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('users').select(['id', 'last_seen_at']).where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, r.last_seen_at === null ? null : Number(r.last_seen_at)]));
  }
}

/** Escapes LIKE wildcards with `!`, an escape character every supported database accepts the same way. */
export function escapeLike(value: string): string {
  return value.replace(/[!%_]/g, (c) => `!${c}`);
}
