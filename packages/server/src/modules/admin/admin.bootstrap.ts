import type { Database } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { UserRow } from '../users/users.mapper.js';
import { AuditRepository } from './audit.repository.js';
import { checkNotLastAdmin, countActiveAdmins, lockAdmins, setRole } from './roles.js';

/** The outcome of a role change made outside the API (the `admin` command, the start-up bootstrap). */
export interface RoleChange {
  userId: string;
  username: string;
  /** False when the account already had the role. */
  changed: boolean;
}

export class RoleChangeError extends Error {}

/**
 * Grants or revokes the admin role by username, with the same lock and last-admin rule as the API and an audit
 * entry (actor null, `via` cli or env). Used by the `admin` command.
 */
export async function changeRoleByName(
  db: Database,
  now: () => number,
  username: string,
  role: 'admin' | 'user',
  via: 'cli' | 'env',
  reason: string,
): Promise<RoleChange> {
  const audit = new AuditRepository(db, now);
  return inTransaction(db, async (trx) => {
    await lockAdmins(trx);
    const user = await trx.selectFrom('users').selectAll().where('username_norm', '=', username.toLowerCase()).executeTakeFirst();
    if (!user || user.deleted_at !== null) throw new RoleChangeError(`No account named "${username}".`);
    if (role === 'admin' && user.disabled_at !== null) throw new RoleChangeError(`The account "${username}" is disabled; enable it first.`);
    if (user.role === role) return { userId: user.id, username: user.username, changed: false };
    if (role === 'user') {
      try {
        await checkNotLastAdmin(trx, [user.id]);
      } catch {
        throw new RoleChangeError(`"${username}" is the last active administrator; grant the role to someone else first.`);
      }
    }
    await setRole(trx, user.id, role, now());
    await audit.append(trx, {
      actorId: null,
      via,
      action: role === 'admin' ? 'user.role_granted' : 'user.role_revoked',
      targetType: 'user',
      targetId: user.id,
      reason,
    });
    return { userId: user.id, username: user.username, changed: true };
  });
}

/** Every active admin's username (the `admin list` command). */
export async function listAdmins(db: Database): Promise<{ username: string; displayName: string }[]> {
  const rows = await db
    .selectFrom('users')
    .select(['username', 'display_name'])
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null)
    .where('deleted_at', 'is', null)
    .orderBy('username_norm')
    .execute();
  return rows.map((r) => ({ username: r.username, displayName: r.display_name }));
}

/**
 * KKCHAT_ADMIN_USERNAMES: the first administrators. While the system has no active admin, listed accounts are
 * made admins at start (those that exist) and at registration (those that register later). Once any admin
 * exists it does nothing, so a demotion is never undone by a restart.
 */
export class AdminBootstrap {
  private readonly names: Set<string>;

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
    usernames: readonly string[],
  ) {
    this.names = new Set(usernames.map((u) => u.toLowerCase()));
  }

  /** At start: grants the listed existing accounts when there is no admin. Returns the usernames granted. */
  async atStart(): Promise<string[]> {
    if (this.names.size === 0) return [];
    return this.grant([...this.names]);
  }

  /** At registration: grants the new account when it is listed and there is still no admin. */
  async onRegistered(user: UserRow): Promise<void> {
    if (this.names.has(user.username_norm)) await this.grant([user.username_norm]);
  }

  private async grant(usernames: string[]): Promise<string[]> {
    const audit = new AuditRepository(this.db, this.now);
    return inTransaction(this.db, async (trx) => {
      await lockAdmins(trx);
      if ((await countActiveAdmins(trx)) > 0) return [];
      const users = await trx
        .selectFrom('users')
        .select(['id', 'username'])
        .where('username_norm', 'in', usernames)
        .where('disabled_at', 'is', null)
        .where('deleted_at', 'is', null)
        .execute();
      for (const user of users) {
        await setRole(trx, user.id, 'admin', this.now());
        await audit.append(trx, {
          actorId: null,
          via: 'env',
          action: 'user.role_granted',
          targetType: 'user',
          targetId: user.id,
          reason: 'KKCHAT_ADMIN_USERNAMES (first administrator)',
        });
      }
      return users.map((u) => u.username);
    });
  }
}
