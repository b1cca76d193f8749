import { randomBytes, randomUUID } from 'node:crypto';
import {
  LIMITS,
  type AddGroupMembersResponse,
  type ConversationSummary,
  type CreateGroupRequest,
  type GroupInviteLink,
  type GroupInvitePreview,
  type GroupJoinRequest,
  type GroupMember,
  type GroupRole,
  type JoinGroupResponse,
  type Message,
  type SystemEvent,
  type UpdateGroupRequest,
} from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { checkCanInteract } from '../contacts/contacts.policy.js';
import type { ContactRepository } from '../contacts/contacts.repository.js';
import type { WithinStore } from '../conversations/conversations.repository.js';
import { withFreshState } from '../conversations/fresh-state.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import { toUserPublic } from '../users/users.mapper.js';
import type { AvatarFiles } from '../users/users.service.js';
import type { UserRepository } from '../users/users.repository.js';
import type { GroupMembershipCache, GroupState } from './groups.cache.js';
import { checkActiveMember, checkAllowed, checkCanChange, checkOutranks, checkTarget } from './groups.policy.js';
import { checkName, checkText, settingsChanges } from './groups.settings.js';
import type { GroupRepository } from './groups.repository.js';

export type Change = { event: SystemEvent; within?: WithinStore; alsoTo?: string[] };

/**
 * Groups: creation, settings, members, roles, mutes, invitations, join requests, leaving and dismissal.
 * Every change is authorized against the actor's role (groups.policy.ts) under the group's lock, and recorded
 * as a system message in the same transaction that changes the rows, so every member's timeline agrees.
 */
export class GroupService {
  constructor(
    private readonly platform: Platform,
    private readonly repo: GroupRepository,
    private readonly cache: GroupMembershipCache,
    private readonly conversations: ConversationService,
    private readonly contacts: ContactRepository,
    private readonly users: UserRepository,
    private readonly files: AvatarFiles,
  ) {}

  async createGroup(actor: Actor, input: CreateGroupRequest): Promise<ConversationSummary> {
    const name = checkName(input.name);
    const memberIds = [...new Set(input.memberIds)].filter((id) => id !== actor.userId);
    for (const userId of memberIds) await this.checkFriend(actor.userId, userId);
    const memberLimit = this.platform.config.groups.memberLimit;
    if (memberIds.length + 1 > memberLimit) throw new AppError('GROUP_FULL');
    const id = randomUUID();
    // The avatar is an uploaded image of the creator's (purpose avatar), like a user's.
    if (input.avatar) await this.files.claimAvatar(actor.userId, input.avatar);
    await this.repo.createGroup({
      id,
      name,
      description: checkText(input.description ?? '', LIMITS.groupDescriptionMax),
      avatar: input.avatar ?? '',
      ownerId: actor.userId,
      memberLimit,
      memberIds,
      now: this.platform.now(),
    });
    await this.commit(id, actor.userId, (state) =>
      this.record(id, actor.userId, state, { event: { type: 'group_created', actorId: actor.userId, value: name, userIds: memberIds } }),
    );
    return this.conversations.getConversation(actor, id);
  }

  /** The user's current groups (departed ones stay in the conversation list as read-only history). */
  async listGroups(actor: Actor): Promise<ConversationSummary[]> {
    const all = await this.conversations.listConversations(actor);
    return all.filter((c) => c.kind === 'group' && c.group?.membership === 'active');
  }

  async getGroup(actor: Actor, conversationId: string): Promise<ConversationSummary> {
    const summary = await this.conversations.getConversation(actor, conversationId);
    if (summary.kind !== 'group') throw new AppError('CONVERSATION_NOT_FOUND');
    return summary;
  }

  async updateGroup(actor: Actor, conversationId: string, input: UpdateGroupRequest): Promise<ConversationSummary> {
    const released: string[] = [];
    await this.commit(conversationId, actor.userId, async (state) => {
      const me = checkCanChange(state, actor.userId);
      const group = (await this.repo.findGroup(conversationId))!;
      const { changes, events } = settingsChanges(group, input, me, {
        actorId: actor.userId,
        memberCount: state!.members.size,
        serverLimit: this.platform.config.groups.memberLimit,
      });
      if (events.length === 0 && changes.member_limit === undefined) return null;
      // Permissions are checked (settingsChanges); a new avatar must be the actor's uploaded image.
      if (changes.avatar) await this.files.claimAvatar(actor.userId, changes.avatar);
      if (changes.avatar !== undefined && group.avatar) released.push(group.avatar);
      const now = this.platform.now();
      if (events.length === 0) {
        await this.repo.updateSettingsOnly(conversationId, changes, now);
        this.cache.invalidate(conversationId);
        return { messages: [], audience: state!.audience };
      }
      // One system message per changed setting; the rows change with the first. Each store bumps the version,
      // so the next one expects the version the previous one left.
      const messages: Message[] = [];
      let audience: string[] = [];
      let version = state!.version;
      for (const [index, event] of events.entries()) {
        const within: WithinStore | undefined = index === 0 ? (trx) => this.repo.updateGroup(trx, conversationId, changes, now) : undefined;
        const stored = await this.conversations.storeServerMessage(conversationId, actor.userId, { kind: 'system', event }, within, [], version);
        messages.push(stored.message);
        audience = stored.audience;
        version = stored.version;
      }
      return { messages, audience };
    });
    // The replaced avatar goes to the file sweep once nothing refers to it.
    await this.files.release(released);
    return this.conversations.getConversation(actor, conversationId);
  }

  async listMembers(actor: Actor, conversationId: string): Promise<GroupMember[]> {
    checkActiveMember(await this.cache.get(conversationId), actor.userId);
    const rows = await this.repo.activeMembers(conversationId);
    // The rows are the truth: a cached state another node has just changed must not show the list to someone
    // removed there.
    if (!rows.some((row) => row.user_id === actor.userId)) throw new AppError('NOT_MEMBER');
    const ids = rows.map((r) => r.user_id);
    const [users, online, lastSeen, blockedMe] = await Promise.all([
      this.users.findPublicByIds(ids),
      this.platform.presence.online(ids),
      this.users.lastSeen(ids),
      this.contacts.blockedBy(actor.userId, ids),
    ]);
    const byId = new Map(users.map((u) => [u.id, u]));
    return rows.flatMap((row) => {
      const user = byId.get(row.user_id);
      if (!user) return [];
      // Someone who blocked the viewer shows as offline to them, as in the contact list.
      const hidden = blockedMe.has(row.user_id);
      return [
        {
          user: toUserPublic(user),
          role: row.role as GroupRole,
          joinedAt: Number(row.joined_at),
          mutedUntil: row.muted_until === null ? null : Number(row.muted_until),
          presence: { online: !hidden && online.has(row.user_id), lastSeenAt: hidden ? null : (lastSeen.get(row.user_id) ?? null) },
        },
      ];
    });
  }

  /**
   * Adds people. Admins add directly in every mode; members add directly in open groups, file join requests in
   * approval groups, and are refused in invite-only groups. Only friends of the actor can be added.
   */
  async addMembers(actor: Actor, conversationId: string, userIds: string[]): Promise<AddGroupMembersResponse> {
    const wanted = [...new Set(userIds)].filter((id) => id !== actor.userId);
    for (const userId of wanted) await this.checkFriend(actor.userId, userId);
    let requested: string[] = [];
    let added: string[] = [];
    await this.commit(conversationId, actor.userId, async (state) => {
      const me = checkCanChange(state, actor.userId);
      checkAllowed(me, 'add_members');
      const group = (await this.repo.findGroup(conversationId))!;
      const fresh = wanted.filter((id) => !state!.members.has(id));
      if (fresh.length === 0) throw new AppError('ALREADY_GROUP_MEMBER');
      if (me.role === 'member' && group.join_mode === 'invite_only') throw new AppError('GROUP_JOIN_CLOSED');
      if (me.role === 'member' && group.join_mode === 'approval') {
        for (const userId of fresh) if (await this.fileRequest(conversationId, userId, actor.userId, '')) requested.push(userId);
        return null;
      }
      added = fresh;
      return this.admit(conversationId, actor.userId, fresh, state!);
    });
    if (requested.length > 0) await this.tellAdmins(conversationId);
    return { added, requested };
  }

  async removeMember(actor: Actor, conversationId: string, userId: string): Promise<void> {
    await this.commit(conversationId, actor.userId, async (state) => {
      const me = checkCanChange(state, actor.userId);
      checkAllowed(me, 'remove_member');
      if (userId === actor.userId) throw new AppError('CANNOT_TARGET_SELF');
      checkOutranks(me, checkTarget(state!, userId));
      return this.record(conversationId, actor.userId, state, {
        event: { type: 'member_removed', actorId: actor.userId, userIds: [userId] },
        within: (trx, seq) => this.repo.depart(trx, conversationId, [userId], 'removed', seq, this.platform.now()),
        alsoTo: [userId],
      });
    });
    await this.platform.bus.publish({ kind: 'deliver', userIds: [userId], frame: { type: 'group.removed', conversationId, reason: 'removed' } });
  }

  async leave(actor: Actor, conversationId: string): Promise<void> {
    await this.commit(conversationId, actor.userId, async (state) => {
      const me = checkActiveMember(state, actor.userId);
      if (me.role === 'owner') throw new AppError('GROUP_OWNER_CANNOT_LEAVE');
      return this.record(conversationId, actor.userId, state, {
        event: { type: 'member_left', actorId: actor.userId, userIds: [actor.userId] },
        within: (trx, seq) => this.repo.depart(trx, conversationId, [actor.userId], 'left', seq, this.platform.now()),
        alsoTo: [actor.userId],
      });
    });
    await this.platform.bus.publish({ kind: 'deliver', userIds: [actor.userId], frame: { type: 'group.removed', conversationId, reason: 'left' } });
  }

  /** Owner only: everyone is told, and the group becomes read-only history for all who were in it. */
  async dismiss(actor: Actor, conversationId: string): Promise<void> {
    let audience: string[] = [];
    await this.commit(conversationId, actor.userId, async (state) => {
      checkAllowed(checkCanChange(state, actor.userId), 'dismiss');
      audience = state!.audience;
      return this.record(conversationId, actor.userId, state, {
        event: { type: 'group_dismissed', actorId: actor.userId },
        within: async (trx, seq) => {
          await this.repo.depart(trx, conversationId, 'all', 'dismissed', seq, this.platform.now());
          await this.repo.updateGroup(trx, conversationId, { dismissed_at: this.platform.now(), invite_code: null }, this.platform.now());
        },
        alsoTo: audience,
      });
    });
    await this.platform.bus.publish({ kind: 'deliver', userIds: audience, frame: { type: 'group.removed', conversationId, reason: 'dismissed' } });
  }

  async setRole(actor: Actor, conversationId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    await this.commit(conversationId, actor.userId, async (state) => {
      checkAllowed(checkCanChange(state, actor.userId), 'set_role');
      const target = checkTarget(state!, userId);
      if (target.role === 'owner') throw new AppError('GROUP_PERMISSION_DENIED');
      if (target.role === role) return null;
      return this.record(conversationId, actor.userId, state, {
        event: { type: 'role_changed', actorId: actor.userId, userIds: [userId], role },
        within: (trx) => this.repo.setRole(trx, conversationId, userId, role),
      });
    });
  }

  /** The owner hands the group to another member and becomes an admin. */
  async transfer(actor: Actor, conversationId: string, userId: string): Promise<void> {
    await this.commit(conversationId, actor.userId, async (state) => {
      checkAllowed(checkCanChange(state, actor.userId), 'transfer');
      if (userId === actor.userId) throw new AppError('CANNOT_TARGET_SELF');
      checkTarget(state!, userId);
      return this.record(conversationId, actor.userId, state, {
        event: { type: 'owner_changed', actorId: actor.userId, userIds: [userId], role: 'owner' },
        within: async (trx) => {
          await this.repo.setRole(trx, conversationId, userId, 'owner');
          await this.repo.setRole(trx, conversationId, actor.userId, 'admin');
          await this.repo.updateGroup(trx, conversationId, { owner_id: userId }, this.platform.now());
        },
      });
    });
  }

  async muteMember(actor: Actor, conversationId: string, userId: string, mutedUntil: number | null): Promise<void> {
    await this.commit(conversationId, actor.userId, async (state) => {
      const me = checkCanChange(state, actor.userId);
      checkAllowed(me, 'mute_member');
      checkOutranks(me, checkTarget(state!, userId));
      const until = mutedUntil !== null && mutedUntil > this.platform.now() ? mutedUntil : null;
      return this.record(conversationId, actor.userId, state, {
        event: { type: 'member_muted', actorId: actor.userId, userIds: [userId], mutedUntil: until },
        within: (trx) => this.repo.setMute(trx, conversationId, userId, until),
      });
    });
  }

  async getInviteLink(actor: Actor, conversationId: string): Promise<GroupInviteLink | null> {
    checkAllowed(checkActiveMember(await this.repo.loadState(conversationId), actor.userId), 'manage_invite_link');
    const group = (await this.repo.findGroup(conversationId))!;
    return group.invite_code ? { code: group.invite_code, createdAt: Number(group.invite_created_at) } : null;
  }

  /** A new link replaces (and so revokes) the previous one. */
  async createInviteLink(actor: Actor, conversationId: string): Promise<GroupInviteLink> {
    checkAllowed(checkCanChange(await this.repo.loadState(conversationId), actor.userId), 'manage_invite_link');
    const code = randomBytes(12).toString('base64url');
    await this.repo.setInviteCode(conversationId, code, this.platform.now());
    return { code, createdAt: this.platform.now() };
  }

  async revokeInviteLink(actor: Actor, conversationId: string): Promise<void> {
    checkAllowed(checkCanChange(await this.repo.loadState(conversationId), actor.userId), 'manage_invite_link');
    await this.repo.setInviteCode(conversationId, null, this.platform.now());
  }

  async previewInvite(_actor: Actor, code: string): Promise<GroupInvitePreview> {
    const group = await this.repo.findByInviteCode(code);
    const state = group ? await this.cache.get(group.conversation_id) : null;
    // A disabled group is hidden from everyone outside it: its link looks revoked.
    if (!group || !state || state.dismissed || state.disabled) throw new AppError('INVITE_LINK_INVALID');
    return {
      conversationId: group.conversation_id,
      name: group.name,
      avatar: group.avatar,
      memberCount: state.members.size,
      joinMode: group.join_mode as GroupInvitePreview['joinMode'],
    };
  }

  /** Open groups admit at once; approval groups file a request; invite-only groups refuse the link. */
  async joinByInvite(actor: Actor, code: string, note: string): Promise<JoinGroupResponse> {
    const group = await this.repo.findByInviteCode(code);
    if (!group || group.dismissed_at !== null || group.disabled_at !== null) throw new AppError('INVITE_LINK_INVALID');
    const conversationId = group.conversation_id;
    let status = 'joined' as JoinGroupResponse['status'];
    await this.commit(conversationId, actor.userId, async (state) => {
      if (state!.members.has(actor.userId)) throw new AppError('ALREADY_GROUP_MEMBER');
      const current = (await this.repo.findGroup(conversationId))!;
      if (current.invite_code !== code || current.disabled_at !== null) throw new AppError('INVITE_LINK_INVALID');
      if (current.join_mode === 'invite_only') throw new AppError('GROUP_JOIN_CLOSED');
      if (current.join_mode === 'approval') {
        if (!(await this.fileRequest(conversationId, actor.userId, null, note))) throw new AppError('JOIN_REQUEST_EXISTS');
        status = 'requested';
        return null;
      }
      return this.admit(conversationId, actor.userId, [actor.userId], state!);
    });
    if (status === 'requested') {
      await this.tellAdmins(conversationId);
      return { status, conversation: null };
    }
    return { status, conversation: await this.conversations.getConversation(actor, conversationId) };
  }

  async listRequests(actor: Actor, conversationId: string): Promise<GroupJoinRequest[]> {
    checkAllowed(checkActiveMember(await this.repo.loadState(conversationId), actor.userId), 'review_requests');
    const rows = await this.repo.pendingRequests(conversationId);
    const users = new Map((await this.users.findPublicByIds(rows.map((r) => r.user_id))).map((u) => [u.id, u]));
    return rows.flatMap((row) => {
      const user = users.get(row.user_id);
      if (!user) return [];
      return [
        {
          id: row.id,
          conversationId,
          user: toUserPublic(user),
          inviterId: row.inviter_id,
          note: row.note,
          status: 'pending' as const,
          createdAt: Number(row.created_at),
        },
      ];
    });
  }

  async decideRequest(actor: Actor, conversationId: string, requestId: string, approve: boolean): Promise<void> {
    await this.commit(conversationId, actor.userId, async (state) => {
      checkAllowed(checkCanChange(state, actor.userId), 'review_requests');
      const request = await this.repo.findPendingRequest(conversationId, requestId);
      if (!request) throw new AppError('JOIN_REQUEST_NOT_FOUND');
      if (!approve || state!.members.has(request.user_id)) {
        await this.repo.decideRequest(this.platform.db, requestId, 'rejected', this.platform.now());
        return null;
      }
      return this.admit(conversationId, actor.userId, [request.user_id], state!);
    });
    await this.tellAdmins(conversationId);
  }

  // ---- helpers ----

  /**
   * Runs `change` under the group's lock with the group's current state; after the lock is released, delivers
   * the system messages it stored and tells the audience to refetch the group (group.updated). Also the way
   * groups.admin.ts changes a group, so administrators' changes follow the same path.
   */
  async commit(
    conversationId: string,
    actorId: string,
    change: (state: GroupState | null) => Promise<{ messages: Message[]; audience: string[] } | null>,
  ): Promise<void> {
    if ((await this.cache.kindOf(conversationId)) !== 'group') throw new AppError('CONVERSATION_NOT_FOUND');
    // A change checked against a state another node has changed since is refused by its store (StaleStateError):
    // it runs again, authorized on the fresh state.
    const result = await this.cache.withLock(conversationId, () => withFreshState(conversationId, this.cache, change));
    if (!result) return;
    for (const message of result.messages) await this.conversations.deliver(result.audience, message);
    await this.platform.bus.publish({ kind: 'deliver', userIds: result.audience, frame: { type: 'group.updated', conversationId } });
    void actorId;
  }

  /**
   * Stores the change's system message, checked against the `state` the change was authorized on. Also used by
   * groups.admin.ts.
   */
  async record(conversationId: string, actorId: string, state: GroupState | null, change: Change): Promise<{ messages: Message[]; audience: string[] }> {
    const { message, audience } = await this.conversations.storeServerMessage(
      conversationId,
      actorId,
      { kind: 'system', event: change.event },
      change.within,
      change.alsoTo ?? [],
      state?.version,
    );
    return { messages: [message], audience };
  }

  /** member_joined for `userIds`, with the member limit checked in the same transaction (GROUP_FULL). */
  private admit(conversationId: string, actorId: string, userIds: string[], state: GroupState) {
    if (state.members.size + userIds.length > state.memberLimit) throw new AppError('GROUP_FULL');
    return this.record(conversationId, actorId, state, {
      event: { type: 'member_joined', actorId, userIds },
      within: async (trx, seq) => {
        if (!(await this.repo.admit(trx, conversationId, userIds, seq, this.platform.now(), state.memberLimit))) throw new AppError('GROUP_FULL');
        await this.repo.closeRequestsOf(trx, conversationId, userIds, this.platform.now());
      },
    });
  }

  /** Files a pending join request; false when one is already pending. */
  private async fileRequest(conversationId: string, userId: string, inviterId: string | null, note: string): Promise<boolean> {
    try {
      await this.repo.createJoinRequest({ id: randomUUID(), conversationId, userId, inviterId, note: note.slice(0, LIMITS.friendRequestNoteMax), now: this.platform.now() });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Owner and admins refetch the group (a join request arrived or was decided). */
  private async tellAdmins(conversationId: string): Promise<void> {
    const state = await this.cache.get(conversationId);
    if (!state) return;
    const admins = [...state.members].filter(([, m]) => m.role !== 'member').map(([id]) => id);
    await this.platform.bus.publish({ kind: 'deliver', userIds: admins, frame: { type: 'group.updated', conversationId } });
  }

  private async checkFriend(actorId: string, userId: string): Promise<void> {
    checkCanInteract(await this.contacts.blockState(actorId, userId));
    if (!(await this.contacts.findFriendship(actorId, userId))) throw new AppError('NOT_FRIENDS');
  }
}
