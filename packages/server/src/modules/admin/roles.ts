import type { AccountRole } from '@kkchat/protocol';
import { AppError } from '../../errors.js';
import type { Trx } from '../groups/groups.repository.js';

/**
 * The rule that the system never loses its last administrator, race-safe on every engine and node. Every
 * transaction that may shrink the set of active admins (role revoke, disable, bulk disable, delete) and every
 * grant first takes the `admins` lock row (an UPDATE: a row write lock that queues the others until commit),
 * then reads and changes accounts. Two admins demoting each other at once: the second waits for the first's
 * commit, then counts and is refused with LAST_ADMIN.
 */
export async function lockAdmins(trx: Trx): Promise<void> {
  await trx
    .updateTable('locks')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('name', '=', 'admins')
    .execute();
}

/** Active admins: role admin, neither disabled nor deleted. */
export async function countActiveAdmins(trx: Trx, excluding: readonly string[] = []): Promise<number> {
  let query = trx
    .selectFrom('users')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null)
    .where('deleted_at', 'is', null);
  if (excluding.length > 0) query = query.where('id', 'not in', excluding);
  const row = await query.executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Refuses (LAST_ADMIN) when `losing` includes an active admin and no active admin would be left without them.
 * Call after lockAdmins in the same transaction.
 */
export async function checkNotLastAdmin(trx: Trx, losing: readonly string[]): Promise<void> {
  if (losing.length === 0) return;
  const row = await trx
    .selectFrom('users')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('id', 'in', losing)
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (Number(row?.n ?? 0) === 0) return;
  if ((await countActiveAdmins(trx, losing)) === 0) throw new AppError('LAST_ADMIN');
}

/**
 * Re-checks, under the admins lock, that the acting admin still is one: an admin demoted or disabled by a
 * transaction that committed while this one waited for the lock must not act any more.
 */
export async function checkStillAdmin(trx: Trx, actorId: string): Promise<void> {
  const actor = await trx.selectFrom('users').select(['role', 'disabled_at', 'deleted_at']).where('id', '=', actorId).executeTakeFirst();
  if (!actor || actor.deleted_at !== null) throw new AppError('ACCOUNT_DELETED');
  if (actor.disabled_at !== null) throw new AppError('ACCOUNT_DISABLED');
  if (actor.role !== 'admin') throw new AppError('ADMIN_REQUIRED');
}

export async function setRole(trx: Trx, userId: string, role: AccountRole, now: number): Promise<void> {
  await trx.updateTable('users').set({ role, updated_at: now }).where('id', '=', userId).execute();
}
