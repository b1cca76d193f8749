import { randomInt } from 'node:crypto';
import {
  CLOSE_CODES,
  type AccountRole,
  type AdminBulkDisableResponse,
  type AdminUser,
  type AdminUserDetails,
  type AdminUserListQuery,
  type AdminUserListResponse,
  ADMIN_LIMITS,
} from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { inTransaction } from '../../platform/db/transaction.js';
import { hashPassword } from '../auth/passwords.js';
import type { AuthRepository } from '../auth/auth.repository.js';
import type { ContactRepository } from '../contacts/contacts.repository.js';
import type { ContactService } from '../contacts/contacts.service.js';
import type { GroupAdministration } from '../groups/groups.admin.js';
import type { Trx } from '../groups/groups.repository.js';
import { toUserPublic, type UserRow } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import type { AdminHooks } from './admin.hooks.js';
import { checkNotSelf, type AdminPolicy } from './admin.policy.js';
import type { AdminUserRepository } from './admin-users.repository.js';
import type { AuditRecord, AuditRepository } from './audit.repository.js';
import { checkNotLastAdmin, checkStillAdmin, lockAdmins, setRole } from './roles.js';

/** Letters and digits without look-alikes (no 0/o, 1/l/i): 31 symbols, 16 of them ≈ 79 bits. */
const OTP_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Everything the users part of the admin API needs; composed in app.ts. */
export interface AdminUserDeps {
  platform: Platform;
  policy: AdminPolicy;
  repo: AdminUserRepository;
  users: UserRepository;
  auth: AuthRepository;
  /** Tombstones sessions revoked here in the shared session cache (AuthService.sessionsEnded). */
  endSessions(sessionIds: readonly string[]): Promise<void>;
  contactsRepo: ContactRepository;
  contacts: ContactService;
  groupAdmin: GroupAdministration;
  audit: AuditRepository;
  hooks: AdminHooks;
}

/**
 * Users in the admin API (issue 7): list, details, roles, disable/enable (single and bulk), force sign-out,
 * password reset and deletion. Each method checks the admin role first; each change, the revocation of the
 * user's sessions and the audit entry commit in one transaction; the sockets are closed through the bus after
 * the commit, on every node (BR-14).
 */
export class AdminUserService {
  constructor(private readonly d: AdminUserDeps) {}

  async list(actor: Actor, query: AdminUserListQuery): Promise<AdminUserListResponse> {
    await this.d.policy.checkAdmin(actor);
    const { rows, total } = await this.d.repo.list(query);
    const online = await this.d.platform.presence.online(rows.map((r) => r.id));
    return {
      users: rows.map((row) => toAdminUser(row, online.has(row.id))),
      total,
      page: query.page ?? 1,
      pageSize: query.pageSize ?? ADMIN_LIMITS.pageSizeDefault,
    };
  }

  async get(actor: Actor, userId: string): Promise<AdminUserDetails> {
    await this.d.policy.checkAdmin(actor);
    const row = await this.d.users.findById(userId);
    if (!row) throw new AppError('USER_NOT_FOUND');
    const [online, sessions, groups, direct] = await Promise.all([
      this.d.platform.presence.online([userId]),
      this.d.auth.listActiveSessions(userId, this.d.platform.now()),
      this.d.repo.groupsOf(userId),
      this.d.repo.directConversationsOf(userId),
    ]);
    const peers = new Map((await this.d.users.findPublicByIds(direct.map((c) => c.peer_id))).map((u) => [u.id, toUserPublic(u)]));
    return {
      ...toAdminUser(row, online.has(userId)),
      sessions: sessions.map((s) => ({
        id: s.id,
        deviceName: s.device_name,
        userAgent: s.user_agent,
        ip: s.ip,
        createdAt: Number(s.created_at),
        lastUsedAt: Number(s.last_used_at),
      })),
      groups: groups.map((g) => ({ conversationId: g.conversation_id, name: g.name, role: g.role as 'owner' | 'admin' | 'member', joinedAt: Number(g.joined_at) })),
      conversations: direct.flatMap((c) => {
        const peer = peers.get(c.peer_id);
        return peer ? [{ conversationId: c.id, peer, lastSeq: Number(c.last_seq) }] : [];
      }),
    };
  }

  /** Grants or revokes the admin role; the last active admin cannot lose it (LAST_ADMIN). */
  async setRole(actor: Actor, userId: string, role: AccountRole, reason: string): Promise<AdminUser> {
    await this.d.policy.checkAdmin(actor);
    const changed = await this.change(actor, userId, async (trx, target) => {
      if (target.disabled_at !== null && role === 'admin') throw new AppError('ACCOUNT_DISABLED', { message: 'This account is disabled; enable it first.' });
      if (target.role === role) return null;
      if (role === 'user') await checkNotLastAdmin(trx, [userId]);
      await setRole(trx, userId, role, this.d.platform.now());
      return this.audit(actor, role === 'admin' ? 'user.role_granted' : 'user.role_revoked', userId, reason);
    });
    if (changed) await this.d.platform.bus.publish({ kind: 'deliver', userIds: [userId], frame: { type: 'account.updated', role } });
    return this.view(userId);
  }

  async disable(actor: Actor, userId: string, reason: string): Promise<AdminUser> {
    await this.d.policy.checkAdmin(actor);
    checkNotSelf(actor, userId);
    let revoked: string[] = [];
    const changed = await this.change(actor, userId, async (trx, target) => {
      if (target.disabled_at !== null) return null;
      await checkNotLastAdmin(trx, [userId]);
      revoked = await this.disableWithin(trx, [userId]);
      return this.audit(actor, 'user.disabled', userId, reason);
    });
    if (changed) await this.ended(revoked, [userId], CLOSE_CODES.ACCOUNT_DISABLED, 'account_disabled');
    return this.view(userId);
  }

  /** Disables up to 100 accounts in one transaction, one audit entry each; the rest are reported as skipped. */
  async bulkDisable(actor: Actor, userIds: readonly string[], reason: string): Promise<AdminBulkDisableResponse> {
    await this.d.policy.checkAdmin(actor);
    const skipped: AdminBulkDisableResponse['skipped'] = [];
    let revoked: string[] = [];
    const disabled = await inTransaction(this.d.platform.db, async (trx) => {
      await lockAdmins(trx);
      await checkStillAdmin(trx, actor.userId);
      const chosen: string[] = [];
      for (const userId of new Set(userIds)) {
        const target = await this.d.repo.findForUpdate(trx, userId);
        if (userId === actor.userId) skipped.push({ userId, code: 'CANNOT_TARGET_SELF' });
        else if (!target || target.deleted_at !== null) skipped.push({ userId, code: 'USER_NOT_FOUND' });
        else if (target.disabled_at !== null) skipped.push({ userId, code: 'ACCOUNT_DISABLED' });
        else chosen.push(userId);
      }
      await checkNotLastAdmin(trx, chosen);
      revoked = await this.disableWithin(trx, chosen);
      for (const userId of chosen) await this.d.audit.append(trx, this.audit(actor, 'user.disabled', userId, reason, { bulk: true }));
      return chosen;
    });
    await this.ended(revoked, disabled, CLOSE_CODES.ACCOUNT_DISABLED, 'account_disabled');
    return { disabled, skipped };
  }

  async enable(actor: Actor, userId: string, reason: string): Promise<AdminUser> {
    await this.d.policy.checkAdmin(actor);
    await this.change(actor, userId, async (trx, target) => {
      if (target.disabled_at === null) return null;
      await this.d.repo.setDisabled(trx, [userId], null, this.d.platform.now());
      return this.audit(actor, 'user.enabled', userId, reason);
    });
    return this.view(userId);
  }

  /** Signs the user out everywhere; they can sign in again. */
  async signOut(actor: Actor, userId: string, reason: string): Promise<AdminUser> {
    await this.d.policy.checkAdmin(actor);
    checkNotSelf(actor, userId);
    let revoked: string[] = [];
    await this.change(actor, userId, async (trx) => {
      revoked = await this.d.repo.revokeAllSessions(trx, [userId], 'admin_signout', this.d.platform.now());
      return this.audit(actor, 'user.signed_out', userId, reason);
    });
    await this.ended(revoked, [userId], CLOSE_CODES.SESSION_REVOKED, 'admin_signout');
    return this.view(userId);
  }

  /**
   * Replaces the password with a one-time password, returned once (never stored or logged in clear); the user
   * is signed out everywhere and must choose a new password at the next sign-in.
   */
  async resetPassword(actor: Actor, userId: string, reason: string): Promise<{ oneTimePassword: string }> {
    await this.d.policy.checkAdmin(actor);
    checkNotSelf(actor, userId);
    const oneTimePassword = newOneTimePassword();
    const passwordHash = await hashPassword(oneTimePassword);
    let revoked: string[] = [];
    await this.change(actor, userId, async (trx) => {
      const now = this.d.platform.now();
      await this.d.repo.setPassword(trx, userId, passwordHash, true, now);
      revoked = await this.d.repo.revokeAllSessions(trx, [userId], 'password_reset', now);
      return this.audit(actor, 'user.password_reset', userId, reason);
    });
    await this.ended(revoked, [userId], CLOSE_CODES.SESSION_REVOKED, 'password_reset');
    return { oneTimePassword };
  }

  /**
   * Deletes (anonymises) the account, then takes it out of its groups. Repeating it on a deleted account only
   * repeats the group step, which finishes a deletion that was interrupted before it.
   */
  async delete(actor: Actor, userId: string, reason: string): Promise<AdminUser> {
    await this.d.policy.checkAdmin(actor);
    checkNotSelf(actor, userId);
    const presenceAudience = await this.d.contactsRepo.audienceOf(userId);
    const removed = await inTransaction(this.d.platform.db, async (trx) => {
      await lockAdmins(trx);
      await checkStillAdmin(trx, actor.userId);
      const target = await this.d.repo.findForUpdate(trx, userId);
      if (!target) throw new AppError('USER_NOT_FOUND');
      if (target.deleted_at !== null) return null;
      await checkNotLastAdmin(trx, [userId]);
      const now = this.d.platform.now();
      const sessions = await this.d.repo.anonymise(trx, userId, now);
      const ties = await this.d.contactsRepo.removeAllTiesOf(trx, userId, now);
      for (const hook of this.d.hooks.accountDeleted) await hook(trx, userId, now);
      await this.d.audit.append(trx, this.audit(actor, 'user.deleted', userId, reason, { username: target.username }));
      return { ...ties, sessions };
    });
    if (removed) {
      await this.ended(removed.sessions, [userId], CLOSE_CODES.ACCOUNT_DELETED, 'account_deleted');
      await this.d.contacts.announceAccountRemoved(userId, removed, presenceAudience);
    }
    const groups = await this.d.repo.groupsOf(userId);
    await this.d.groupAdmin.removeDeletedAccount(actor.userId, userId, groups.map((g) => g.conversation_id));
    return this.view(userId);
  }

  // ---- helpers ----

  /**
   * Runs one account change in a transaction that holds the admins lock (and in which the actor is still an
   * admin): `work` returns the audit record to write, or null when there was nothing to do. True when changed.
   */
  private async change(actor: Actor, userId: string, work: (trx: Trx, target: UserRow) => Promise<AuditRecord | null>): Promise<boolean> {
    return inTransaction(this.d.platform.db, async (trx) => {
      await lockAdmins(trx);
      await checkStillAdmin(trx, actor.userId);
      const target = await this.d.repo.findForUpdate(trx, userId);
      if (!target || target.deleted_at !== null) throw new AppError('USER_NOT_FOUND');
      const record = await work(trx, target);
      if (!record) return false;
      await this.d.audit.append(trx, record);
      return true;
    });
  }

  /** Disables and revokes inside the caller's transaction; returns the revoked session ids. */
  private async disableWithin(trx: Trx, userIds: readonly string[]): Promise<string[]> {
    const now = this.d.platform.now();
    await this.d.repo.setDisabled(trx, userIds, now, now);
    return this.d.repo.revokeAllSessions(trx, userIds, 'account_disabled', now);
  }

  /**
   * After the commit: the revoked sessions tombstoned in the shared session cache (every node refuses their
   * tokens at once), then the users' sockets closed through the bus, so every node closes those it holds (never
   * the local gateway directly).
   */
  private async ended(sessionIds: readonly string[], userIds: readonly string[], code: number, reason: string): Promise<void> {
    await this.d.endSessions(sessionIds);
    for (const userId of userIds) await this.d.platform.bus.publish({ kind: 'close-user', userId, code, reason });
  }

  private audit(actor: Actor, action: AuditRecord['action'], userId: string, reason: string, details?: AuditRecord['details']): AuditRecord {
    return { actorId: actor.userId, via: 'api', action, targetType: 'user', targetId: userId, reason, ...(details ? { details } : {}) };
  }

  private async view(userId: string): Promise<AdminUser> {
    const row = await this.d.users.findById(userId);
    if (!row) throw new AppError('USER_NOT_FOUND');
    const online = await this.d.platform.presence.online([userId]);
    return toAdminUser(row, online.has(userId));
  }
}

export function toAdminUser(row: UserRow, online: boolean): AdminUser {
  const status = row.deleted_at !== null ? 'deleted' : row.disabled_at !== null ? 'disabled' : 'active';
  return {
    user: toUserPublic(row),
    role: row.role as AccountRole,
    status,
    createdAt: Number(row.created_at),
    lastSeenAt: row.last_seen_at === null ? null : Number(row.last_seen_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
    online: online && status === 'active',
    mustChangePassword: Number(row.must_change_password) === 1,
  };
}

/** 16 symbols in groups of four ("abcd-efgh-…"), easy to read out and type. */
export function newOneTimePassword(): string {
  const symbols = Array.from({ length: 16 }, () => OTP_ALPHABET[randomInt(OTP_ALPHABET.length)]);
  return [0, 4, 8, 12].map((i) => symbols.slice(i, i + 4).join('')).join('-');
}
