import type { AuditAction, AuditEntry, AuditListResponse, AuditQuery, AuditTargetType } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { toUserPublic } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import type { AdminPolicy } from './admin.policy.js';
import type { AuditRepository, AuditRow } from './audit.repository.js';

/** Reading the audit log (admins only). There is deliberately no way to change or delete an entry. */
export class AuditService {
  constructor(
    private readonly platform: Platform,
    private readonly policy: AdminPolicy,
    private readonly repo: AuditRepository,
    private readonly users: UserRepository,
  ) {}

  async list(actor: Actor, query: AuditQuery): Promise<AuditListResponse> {
    await this.policy.checkAdmin(actor);
    const { rows, nextCursor } = await this.repo.list(query);
    return { entries: await this.toEntries(rows), nextCursor };
  }

  /** Names are resolved now, not stored: a deleted user's entries show "Deleted user" from then on. */
  private async toEntries(rows: AuditRow[]): Promise<AuditEntry[]> {
    const userIds = new Set<string>();
    const groupIds = new Set<string>();
    for (const row of rows) {
      if (row.actor_id) userIds.add(row.actor_id);
      if (row.target_type === 'user') userIds.add(row.target_id);
      if (row.target_type === 'group' || row.target_type === 'conversation') groupIds.add(row.target_id);
    }
    const [users, groups] = await Promise.all([
      this.users.findPublicByIds([...userIds]),
      groupIds.size === 0
        ? Promise.resolve([])
        : this.platform.db.selectFrom('groups').select(['conversation_id', 'name']).where('conversation_id', 'in', [...groupIds]).execute(),
    ]);
    const userById = new Map(users.map((u) => [u.id, toUserPublic(u)]));
    const groupName = new Map(groups.map((g) => [g.conversation_id, g.name]));
    return rows.map((row) => {
      const targetUser = row.target_type === 'user' ? userById.get(row.target_id) : undefined;
      return {
        id: row.id,
        createdAt: Number(row.created_at),
        actor: row.actor_id ? (userById.get(row.actor_id) ?? null) : null,
        via: row.via as AuditEntry['via'],
        action: row.action as AuditAction,
        targetType: row.target_type as AuditTargetType,
        targetId: row.target_id,
        targetLabel: targetUser ? targetUser.displayName : (groupName.get(row.target_id) ?? null),
        reason: row.reason,
        details: JSON.parse(row.details) as AuditEntry['details'],
      };
    });
  }
}
