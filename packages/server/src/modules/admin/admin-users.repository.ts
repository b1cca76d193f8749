import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AdminUserListQuery } from '@kkchat/protocol';
import { ADMIN_LIMITS } from '@kkchat/protocol';
import type { Database } from '../../platform/db/database.js';
import type { Trx } from '../groups/groups.repository.js';
import { DELETED_USER_NAME, type UserRow } from '../users/users.mapper.js';
import { escapeLike } from '../users/users.repository.js';

/** All SQL of the admin API about accounts: listing, details, and the account changes of disable and delete. */
export class AdminUserRepository {
  constructor(private readonly db: Database) {}

  /** One page of accounts, newest first, with the total matching the filters. */
  async list(query: AdminUserListQuery): Promise<{ rows: UserRow[]; total: number }> {
    const pageSize = query.pageSize ?? ADMIN_LIMITS.pageSizeDefault;
    const page = query.page ?? 1;
    let select = this.db.selectFrom('users');
    switch (query.status) {
      case 'active':
        select = select.where('disabled_at', 'is', null).where('deleted_at', 'is', null);
        break;
      case 'disabled':
        select = select.where('disabled_at', 'is not', null).where('deleted_at', 'is', null);
        break;
      case 'deleted':
        select = select.where('deleted_at', 'is not', null);
        break;
      case 'all':
        break;
      default:
        select = select.where('deleted_at', 'is', null);
    }
    if (query.role) select = select.where('role', '=', query.role);
    if (query.q) {
      const pattern = `%${escapeLike(query.q.toLowerCase())}%`;
      select = select.where((eb) =>
        eb.or([sql<boolean>`username_norm LIKE ${pattern} ESCAPE '!'`, sql<boolean>`lower(display_name) LIKE ${pattern} ESCAPE '!'`]),
      );
    }
    const [rows, count] = await Promise.all([
      select
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(pageSize)
        .offset((page - 1) * pageSize)
        .execute(),
      select.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst(),
    ]);
    return { rows, total: Number(count?.n ?? 0) };
  }

  /** Current group memberships of a user, with each group's name. */
  groupsOf(userId: string) {
    return this.db
      .selectFrom('conversation_members as m')
      .innerJoin('groups as g', 'g.conversation_id', 'm.conversation_id')
      .select(['m.conversation_id', 'g.name', 'm.role', 'm.joined_at', 'g.owner_id'])
      .where('m.user_id', '=', userId)
      .where('m.left_at', 'is', null)
      .where('g.dismissed_at', 'is', null)
      .orderBy('m.joined_at', 'desc')
      .execute();
  }

  /** The user's one-to-one conversations with the other participant. */
  directConversationsOf(userId: string) {
    return this.db
      .selectFrom('conversation_members as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .innerJoin('conversation_members as p', (join) => join.onRef('p.conversation_id', '=', 'm.conversation_id').onRef('p.user_id', '!=', 'm.user_id'))
      .select(['c.id', 'c.last_seq', 'c.updated_at', 'p.user_id as peer_id'])
      .where('m.user_id', '=', userId)
      .where('c.kind', '=', 'direct')
      .orderBy('c.updated_at', 'desc')
      .limit(200)
      .execute();
  }

  findForUpdate(trx: Trx, userId: string): Promise<UserRow | undefined> {
    return trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  }

  async setDisabled(trx: Trx, userIds: readonly string[], disabledAt: number | null, now: number): Promise<void> {
    if (userIds.length === 0) return;
    await trx.updateTable('users').set({ disabled_at: disabledAt, updated_at: now }).where('id', 'in', userIds).execute();
  }

  /** Revokes every live session of the users (their refresh tokens stop working with them); returns their ids. */
  async revokeAllSessions(trx: Trx, userIds: readonly string[], reason: string, now: number): Promise<string[]> {
    if (userIds.length === 0) return [];
    const live = await trx.selectFrom('sessions').select('id').where('user_id', 'in', userIds).where('revoked_at', 'is', null).execute();
    if (live.length === 0) return [];
    const ids = live.map((r) => r.id);
    await trx.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('id', 'in', ids).execute();
    return ids;
  }

  async setPassword(trx: Trx, userId: string, passwordHash: string, mustChange: boolean, now: number): Promise<void> {
    await trx
      .updateTable('users')
      .set({ password_hash: passwordHash, must_change_password: mustChange ? 1 : 0, updated_at: now })
      .where('id', '=', userId)
      .execute();
  }

  /**
   * The anonymisation of a deleted account (docs/architecture.md, "Administration"): the row stays so its messages
   * keep a sender; the name is freed, the profile cleared, the password unusable, the sessions and tokens gone.
   */
  /** Returns the ids of the sessions it revoked. */
  async anonymise(trx: Trx, userId: string, now: number): Promise<string[]> {
    const tombstone = `deleted:${userId}`;
    await trx
      .updateTable('users')
      .set({
        username: tombstone,
        username_norm: tombstone.toLowerCase(),
        display_name: DELETED_USER_NAME,
        bio: '',
        // The avatar file itself goes with the account's files (AdminHooks.accountDeleted).
        avatar: '',
        // Not an argon2 hash: no password verifies against it.
        password_hash: `!deleted:${randomBytes(16).toString('hex')}`,
        role: 'user',
        must_change_password: 0,
        last_seen_at: null,
        disabled_at: now,
        deleted_at: now,
        updated_at: now,
      })
      .where('id', '=', userId)
      .execute();
    const revoked = await this.revokeAllSessions(trx, [userId], 'account_deleted', now);
    const sessions = trx.selectFrom('sessions').select('id').where('user_id', '=', userId);
    await trx.deleteFrom('refresh_tokens').where('session_id', 'in', sessions).execute();
    await trx
      .updateTable('group_join_requests')
      .set({ status: 'rejected', pending_key: null, updated_at: now })
      .where('user_id', '=', userId)
      .where('status', '=', 'pending')
      .execute();
    return revoked;
  }
}
