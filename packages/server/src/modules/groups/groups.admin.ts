import type { Message } from '@kkchat/protocol';
import type { Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { inTransaction } from '../../platform/db/transaction.js';
import { bumpStateVersion } from '../conversations/conversations.repository.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { GroupMembershipCache, GroupState } from './groups.cache.js';
import type { GroupRepository, Trx } from './groups.repository.js';
import type { GroupService } from './groups.service.js';

/** Runs in the transaction of an administrator's change (the admin module writes its audit entry here). */
export type AdminWithin = (trx: Trx) => Promise<void>;

/**
 * What a system administrator does to groups (issue 7): disable and enable, delete (the groups module's
 * dismissal), and the removal of a deleted account from its groups. Authorization is the admin module's
 * (`checkAdmin`); these methods only run the change, under the group's lock and through GroupService.commit,
 * so members are told exactly as for their own admins' changes. System messages carry `byAdmin: true`.
 */
export class GroupAdministration {
  constructor(
    private readonly platform: Platform,
    private readonly repo: GroupRepository,
    private readonly cache: GroupMembershipCache,
    private readonly groups: GroupService,
    private readonly conversations: ConversationService,
  ) {}

  /**
   * Disables (read-only for everyone, hidden from outsiders, members see `reason`) or enables (`disable` null).
   * Returns false when the group already was in that state.
   */
  async setDisabled(conversationId: string, disable: { reason: string } | null, within: AdminWithin): Promise<boolean> {
    let changed = false;
    await this.groups.commit(conversationId, '', async (state) => {
      if (!state) throw new AppError('CONVERSATION_NOT_FOUND');
      if (state.dismissed) throw new AppError('GROUP_DISMISSED');
      if (state.disabled === (disable !== null)) return null;
      const now = this.platform.now();
      await inTransaction(this.platform.db, async (trx) => {
        await this.repo.updateGroup(trx, conversationId, { disabled_at: disable ? now : null, disabled_reason: disable?.reason ?? null }, now);
        // Every node's cached state of the group is stale now: their next store is refused and reloads.
        await bumpStateVersion(trx, conversationId);
        await within(trx);
      });
      this.cache.invalidate(conversationId);
      changed = true;
      return { messages: [], audience: state.audience };
    });
    return changed;
  }

  /** Dismisses the group for everyone (a disabled group too). Returns false when it was dismissed already. */
  async dismiss(adminId: string, conversationId: string, within: AdminWithin): Promise<boolean> {
    let audience: string[] | null = null;
    await this.groups.commit(conversationId, adminId, async (state) => {
      if (!state) throw new AppError('CONVERSATION_NOT_FOUND');
      if (state.dismissed) return null;
      audience = state.audience;
      return this.dismissWithin(adminId, state, within);
    });
    if (audience === null) return false;
    await this.platform.bus.publish({ kind: 'deliver', userIds: audience, frame: { type: 'group.removed', conversationId, reason: 'dismissed' } });
    return true;
  }

  /**
   * Takes a deleted account out of its groups, one group at a time under its lock: an owner's group goes to the
   * longest-standing admin, else the longest-standing member; a group with nobody else is dismissed; then the
   * account is removed. Idempotent (a group it already left is skipped), so an interrupted run can be repeated.
   */
  async removeDeletedAccount(adminId: string, userId: string, conversationIds: readonly string[]): Promise<void> {
    for (const conversationId of conversationIds) {
      await this.groups.commit(conversationId, adminId, async (state) => {
        const member = state?.members.get(userId);
        if (!state || !member || state.dismissed) return null;
        const others = (await this.repo.activeMembers(conversationId)).filter((m) => m.user_id !== userId);
        if (others.length === 0) return this.dismissWithin(adminId, state, async () => undefined);
        const messages: Message[] = [];
        // Two system messages in a row: the second expects the version the first left.
        let version = state.version;
        if (member.role === 'owner') {
          const successor = (others.find((m) => m.role === 'admin') ?? others[0]!).user_id;
          const handed = await this.conversations.storeServerMessage(
            conversationId,
            adminId,
            { kind: 'system', event: { type: 'owner_changed', actorId: adminId, userIds: [successor], role: 'owner', byAdmin: true } },
            async (trx) => {
              await this.repo.setRole(trx, conversationId, successor, 'owner');
              await this.repo.updateGroup(trx, conversationId, { owner_id: successor }, this.platform.now());
            },
            [],
            version,
          );
          messages.push(handed.message);
          version = handed.version;
        }
        const removed = await this.conversations.storeServerMessage(
          conversationId,
          adminId,
          { kind: 'system', event: { type: 'member_removed', actorId: adminId, userIds: [userId], byAdmin: true } },
          (trx, seq) => this.repo.depart(trx, conversationId, [userId], 'removed', seq, this.platform.now()),
          [],
          version,
        );
        return { messages: [...messages, removed.message], audience: removed.audience };
      });
    }
  }

  private dismissWithin(adminId: string, state: GroupState, within: AdminWithin) {
    const { conversationId, audience } = state;
    return this.groups.record(conversationId, adminId, state, {
      event: { type: 'group_dismissed', actorId: adminId, byAdmin: true },
      within: async (trx, seq) => {
        const now = this.platform.now();
        await this.repo.depart(trx, conversationId, 'all', 'dismissed', seq, now);
        await this.repo.updateGroup(trx, conversationId, { dismissed_at: now, invite_code: null }, now);
        await within(trx);
      },
      alsoTo: audience,
    });
  }
}
