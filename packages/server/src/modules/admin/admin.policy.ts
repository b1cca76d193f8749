import type { Actor } from '../../context.js';
import { AppError } from '../../errors.js';
import type { UserRow } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';

/**
 * Who may use the admin API: an account whose role is `admin` now, read from the database on every call (never
 * from the token, so a revoked role takes effect at once). Every admin service method calls this first.
 */
export class AdminPolicy {
  constructor(private readonly users: UserRepository) {}

  async checkAdmin(actor: Actor): Promise<UserRow> {
    const account = await this.users.findById(actor.userId);
    // The session check refuses disabled and deleted accounts first; this holds even if a caller skipped it.
    if (!account || account.deleted_at !== null) throw new AppError('ACCOUNT_DELETED');
    if (account.disabled_at !== null) throw new AppError('ACCOUNT_DISABLED');
    if (account.role !== 'admin') throw new AppError('ADMIN_REQUIRED');
    return account;
  }
}

/** An admin may not end their own account or sessions through the admin API (they would lock themselves out). */
export function checkNotSelf(actor: Actor, userId: string): void {
  if (actor.userId === userId) throw new AppError('CANNOT_TARGET_SELF');
}
