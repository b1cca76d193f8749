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

  /**
   * Names are resolved now, not stored: a deleted user's entries show "Deleted user" from then on. A conversation
   * (or a message in one) is named by its group, or by the two people of a one-to-one conversation.
   */
  private async toEntries(rows: AuditRow[]): Promise<AuditEntry[]> {
    const userIds = new Set<string>();
    const conversationIds = new Set<string>();
    const conversationOf = (row: AuditRow): string | null => {
      if (row.target_type === 'group' || row.target_type === 'conversation') return row.target_id;
      if (row.target_type === 'message') {
        const id = (JSON.parse(row.details) as { conversationId?: unknown }).conversationId;
        return typeof id === 'string' ? id : null;
      }
      return null;
    };
    for (const row of rows) {
      if (row.actor_id) userIds.add(row.actor_id);
      if (row.target_type === 'user') userIds.add(row.target_id);
      const conversationId = conversationOf(row);
      if (conversationId) conversationIds.add(conversationId);
    }
    const [users, conversationNames] = await Promise.all([this.users.findPublicByIds([...userIds]), this.conversationNames([...conversationIds])]);
    const userById = new Map(users.map((u) => [u.id, toUserPublic(u)]));
    return rows.map((row) => {
      const targetUser = row.target_type === 'user' ? userById.get(row.target_id) : undefined;
      const conversationId = conversationOf(row);
      return {
        id: row.id,
        createdAt: Number(row.created_at),
        actor: row.actor_id ? (userById.get(row.actor_id) ?? null) : null,
        via: row.via as AuditEntry['via'],
        action: row.action as AuditAction,
        targetType: row.target_type as AuditTargetType,
        targetId: row.target_id,
        targetLabel: targetUser ? targetUser.displayName : conversationId ? (conversationNames.get(conversationId) ?? null) : null,
        reason: row.reason,
        details: JSON.parse(row.details) as AuditEntry['details'],
      };
    });
  }

  private async conversationNames(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const db = this.platform.db;
    const [groups, direct] = await Promise.all([
      db.selectFrom('groups').select(['conversation_id', 'name']).where('conversation_id', 'in', ids).execute(),
      db
        .selectFrom('conversation_members as m')
        .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select(['m.conversation_id', 'u.display_name'])
        .where('c.kind', '=', 'direct')
        .where('m.conversation_id', 'in', ids)
        .orderBy('u.display_name')
        .execute(),
    ]);
    const names = new Map(groups.map((g) => [g.conversation_id, g.name]));
    for (const row of direct) {
      const known = names.get(row.conversation_id);
      names.set(row.conversation_id, known ? `${known} & ${row.display_name}` : row.display_name);
    }
    return names;
  }
}
