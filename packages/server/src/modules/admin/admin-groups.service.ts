import {
  ADMIN_LIMITS,
  type AdminGroup,
  type AdminGroupDetails,
  type AdminGroupListQuery,
  type AdminGroupListResponse,
  type AdminMessagesQuery,
  type AdminMessagesResponse,
  type GroupRole,
  type RemovedMessage,
} from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { inTransaction } from '../../platform/db/transaction.js';
import { toMessage } from '../conversations/conversations.mapper.js';
import type { ConversationRepository } from '../conversations/conversations.repository.js';
import type { MessageRemoval } from '../conversations/message-removal.js';
import type { GroupAdministration } from '../groups/groups.admin.js';
import { toUserPublic } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import type { AdminHooks } from './admin.hooks.js';
import type { AdminPolicy } from './admin.policy.js';
import type { AdminGroupRepository, AdminGroupRow } from './admin-groups.repository.js';
import type { AuditRecord, AuditRepository } from './audit.repository.js';

/** Members shown on a group's admin page. */
const MEMBERS_SHOWN = 200;

export interface AdminGroupDeps {
  platform: Platform;
  policy: AdminPolicy;
  repo: AdminGroupRepository;
  users: UserRepository;
  conversations: ConversationRepository;
  groupAdmin: GroupAdministration;
  removal: MessageRemoval;
  audit: AuditRepository;
  hooks: AdminHooks;
}

/**
 * Groups and messages in the admin API (issue 7): list and inspect groups, disable, enable and delete them, read a
 * conversation for moderation (each read is audited) and remove a message from any conversation.
 */
export class AdminGroupService {
  constructor(private readonly d: AdminGroupDeps) {}

  async list(actor: Actor, query: AdminGroupListQuery): Promise<AdminGroupListResponse> {
    await this.d.policy.checkAdmin(actor);
    const { rows, total } = await this.d.repo.list(query);
    return {
      groups: await this.toGroups(rows),
      total,
      page: query.page ?? 1,
      pageSize: query.pageSize ?? ADMIN_LIMITS.pageSizeDefault,
    };
  }

  async get(actor: Actor, conversationId: string): Promise<AdminGroupDetails> {
    await this.d.policy.checkAdmin(actor);
    const row = await this.d.repo.find(conversationId);
    if (!row) throw new AppError('CONVERSATION_NOT_FOUND');
    const members = await this.d.repo.members(conversationId, MEMBERS_SHOWN);
    const users = new Map((await this.d.users.findPublicByIds(members.map((m) => m.user_id))).map((u) => [u.id, toUserPublic(u)]));
    const [group] = await this.toGroups([row]);
    return {
      ...group!,
      description: row.description,
      members: members.flatMap((m) => {
        const user = users.get(m.user_id);
        return user ? [{ user, role: m.role as GroupRole, joinedAt: Number(m.joined_at) }] : [];
      }),
    };
  }

  async disable(actor: Actor, conversationId: string, reason: string): Promise<AdminGroup> {
    await this.d.policy.checkAdmin(actor);
    await this.d.groupAdmin.setDisabled(conversationId, { reason }, (trx) => this.d.audit.append(trx, this.audit(actor, 'group.disabled', conversationId, reason)));
    return this.view(conversationId);
  }

  async enable(actor: Actor, conversationId: string, reason: string): Promise<AdminGroup> {
    await this.d.policy.checkAdmin(actor);
    await this.d.groupAdmin.setDisabled(conversationId, null, (trx) => this.d.audit.append(trx, this.audit(actor, 'group.enabled', conversationId, reason)));
    return this.view(conversationId);
  }

  /** Dismisses the group for everyone; members keep its history read-only. */
  async delete(actor: Actor, conversationId: string, reason: string): Promise<AdminGroup> {
    await this.d.policy.checkAdmin(actor);
    await this.d.groupAdmin.dismiss(actor.userId, conversationId, (trx) => this.d.audit.append(trx, this.audit(actor, 'group.deleted', conversationId, reason)));
    return this.view(conversationId);
  }

  /**
   * A page of any conversation (newest below `before`), tombstones and redaction records included, with the
   * senders' names. Reading private messages is recorded in the audit log.
   */
  async messages(actor: Actor, conversationId: string, query: AdminMessagesQuery): Promise<AdminMessagesResponse> {
    await this.d.policy.checkAdmin(actor);
    const conversation = await this.d.conversations.findConversation(conversationId);
    if (!conversation) throw new AppError('CONVERSATION_NOT_FOUND');
    const limit = query.limit ?? 50;
    const { rows, hasMore } = await this.d.repo.page(conversationId, query.before ?? Number.MAX_SAFE_INTEGER, limit);
    await inTransaction(this.d.platform.db, (trx) =>
      this.d.audit.append(trx, {
        actorId: actor.userId,
        via: 'api',
        action: 'conversation.viewed',
        targetType: 'conversation',
        targetId: conversationId,
        reason: '',
        details: { fromSeq: rows[0] ? Number(rows[0].seq) : null, toSeq: rows.at(-1) ? Number(rows.at(-1)!.seq) : null },
      }),
    );
    const users = await this.d.users.findPublicByIds([...new Set(rows.map((r) => r.sender_id))]);
    return { messages: rows.map(toMessage), hasMore, lastSeq: Number(conversation.last_seq), users: users.map(toUserPublic) };
  }

  /** Removes a message for everyone: a tombstone in its place, live and in sync (message-removal.ts). */
  async removeMessage(actor: Actor, conversationId: string, seq: number, reason: string): Promise<RemovedMessage> {
    await this.d.policy.checkAdmin(actor);
    const { message } = await this.d.removal.remove(conversationId, seq, actor.userId, async (trx, original, redactionSeq) => {
      const now = this.d.platform.now();
      for (const hook of this.d.hooks.messageRemoved) await hook(trx, original, now);
      await this.d.audit.append(trx, {
        actorId: actor.userId,
        via: 'api',
        action: 'message.removed',
        targetType: 'message',
        targetId: original.id,
        reason,
        details: { conversationId, seq, senderId: original.sender_id, kind: original.kind, redactionSeq },
      });
    });
    return message;
  }

  private audit(actor: Actor, action: AuditRecord['action'], conversationId: string, reason: string): AuditRecord {
    return { actorId: actor.userId, via: 'api', action, targetType: 'group', targetId: conversationId, reason };
  }

  private async view(conversationId: string): Promise<AdminGroup> {
    const row = await this.d.repo.find(conversationId);
    if (!row) throw new AppError('CONVERSATION_NOT_FOUND');
    return (await this.toGroups([row]))[0]!;
  }

  private async toGroups(rows: AdminGroupRow[]): Promise<AdminGroup[]> {
    const owners = new Map((await this.d.users.findPublicByIds([...new Set(rows.map((r) => r.owner_id))])).map((u) => [u.id, toUserPublic(u)]));
    return rows.map((row) => ({
      conversationId: row.conversation_id,
      name: row.name,
      owner: owners.get(row.owner_id) ?? null,
      memberCount: Number(row.member_count ?? 0),
      status: row.dismissed_at !== null ? 'dismissed' : row.disabled_at !== null ? 'disabled' : 'active',
      createdAt: Number(row.created_at),
      lastActivityAt: Number(row.updated_at),
      lastSeq: Number(row.last_seq),
      disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
      disabledReason: row.disabled_reason,
      dismissedAt: row.dismissed_at === null ? null : Number(row.dismissed_at),
    }));
  }
}
