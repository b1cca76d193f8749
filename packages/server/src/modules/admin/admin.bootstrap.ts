import type { Database } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
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

/** Where the start-up bootstrap reports listed names it could not grant (the server's logger). */
export interface BootstrapLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What the bootstrap did at start. */
export interface BootstrapResult {
  /** Listed accounts made administrators now. */
  granted: string[];
  /** Listed names with no active account (not registered, or disabled): not granted. Empty when an admin exists. */
  missing: string[];
}

export const MISSING_ADMINS_MESSAGE =
  'KKCHAT_ADMIN_USERNAMES lists names with no active account (not registered yet, or disabled), so they were not ' +
  'made administrators: register them, then restart the server, or run `npm run admin -- grant <name>`. ' +
  'Registering a listed name never grants the role by itself.';

/**
 * KKCHAT_ADMIN_USERNAMES: the first administrators, granted at start only. While the system has no active admin,
 * the listed accounts that exist at start (and are not disabled) are made admins; listed names without an account
 * are logged. Registering a listed name later does not grant anything: whoever registered it first would become
 * admin, so anyone who knew (or guessed) the name could take it. The operator registers the account, then
 * restarts the server or runs `npm run admin -- grant <name>`. Once any admin exists it does nothing, so a
 * demotion is never undone by a restart.
 */
export class AdminBootstrap {
  private readonly names: string[];

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
    usernames: readonly string[],
    private readonly log?: BootstrapLog,
  ) {
    this.names = [...new Set(usernames.map((u) => u.trim().toLowerCase()).filter((u) => u.length > 0))];
  }

  /** At start: grants the listed existing accounts when there is no admin. Returns the usernames granted. */
  async atStart(): Promise<string[]> {
    const result = await this.run();
    if (result.missing.length > 0) this.log?.warn({ usernames: result.missing }, MISSING_ADMINS_MESSAGE);
    return result.granted;
  }

  /** The start-up step without logging: what was granted, and which listed names have no account. */
  async run(): Promise<BootstrapResult> {
    if (this.names.length === 0) return { granted: [], missing: [] };
    return this.grant(this.names);
  }

  private async grant(usernames: string[]): Promise<BootstrapResult> {
    const audit = new AuditRepository(this.db, this.now);
    return inTransaction(this.db, async (trx) => {
      await lockAdmins(trx);
      if ((await countActiveAdmins(trx)) > 0) return { granted: [], missing: [] };
      const users = await trx
        .selectFrom('users')
        .select(['id', 'username', 'username_norm'])
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
      const found = new Set(users.map((u) => u.username_norm));
      return { granted: users.map((u) => u.username), missing: usernames.filter((u) => !found.has(u)) };
    });
  }
}
