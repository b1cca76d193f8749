import type { GroupRole } from '@kkchat/protocol';
import { AppError } from '../../errors.js';
import type { GroupMemberState, GroupState } from './groups.cache.js';

/** Everything a member may do to a group, checked by the service at the top of each method. */
export type GroupAction =
  | 'update_settings'
  | 'set_member_limit'
  | 'add_members'
  | 'manage_invite_link'
  | 'review_requests'
  | 'remove_member'
  | 'set_role'
  | 'transfer'
  | 'mute_member'
  | 'mute_all'
  | 'dismiss'
  | 'mention_all';

/** The permission matrix: which roles may take each action (issue 3; tested action × role). */
export const GROUP_PERMISSIONS: Record<GroupAction, readonly GroupRole[]> = {
  update_settings: ['owner', 'admin'],
  set_member_limit: ['owner'],
  // Members may add people too; the join mode decides whether that is a join or a request (see addMembers).
  add_members: ['owner', 'admin', 'member'],
  manage_invite_link: ['owner', 'admin'],
  review_requests: ['owner', 'admin'],
  remove_member: ['owner', 'admin'],
  set_role: ['owner'],
  transfer: ['owner'],
  mute_member: ['owner', 'admin'],
  mute_all: ['owner', 'admin'],
  dismiss: ['owner'],
  mention_all: ['owner', 'admin'],
};

const RANK: Record<GroupRole, number> = { owner: 3, admin: 2, member: 1 };

/**
 * The actor as a current member of a group that is not dismissed. Someone who was never in the group gets
 * CONVERSATION_NOT_FOUND, exactly like a missing group (BR-19); someone who left or was removed gets NOT_MEMBER
 * (BR-12: distinct from MUTED).
 */
export function checkActiveMember(state: GroupState | null, userId: string): GroupMemberState {
  const member = state?.members.get(userId);
  if (!state || (!member && !state.departed.has(userId))) throw new AppError('CONVERSATION_NOT_FOUND');
  if (state.dismissed) throw new AppError('GROUP_DISMISSED');
  if (!member) throw new AppError('NOT_MEMBER');
  return member;
}

/** A current member acting on a group that is not disabled (every change except leaving). */
export function checkCanChange(state: GroupState | null, userId: string): GroupMemberState {
  const member = checkActiveMember(state, userId);
  if (state!.disabled) throw new AppError('GROUP_DISABLED');
  return member;
}

export function checkAllowed(member: GroupMemberState, action: GroupAction): void {
  if (!GROUP_PERMISSIONS[action].includes(member.role)) throw new AppError('GROUP_PERMISSION_DENIED');
}

/** Removing or muting someone needs a higher role than theirs: admins act on members, the owner on admins. */
export function checkOutranks(actor: GroupMemberState, target: GroupMemberState): void {
  if (RANK[actor.role] <= RANK[target.role]) throw new AppError('GROUP_PERMISSION_DENIED');
}

/** A current member of the group, as the target of an action. */
export function checkTarget(state: GroupState, userId: string): GroupMemberState {
  const target = state.members.get(userId);
  if (!target) throw new AppError('GROUP_MEMBER_NOT_FOUND');
  return target;
}

/** Posting: a current member, not muted, not silenced by mute-all, and @all only for owner/admins. */
export function checkCanPost(state: GroupState | null, userId: string, now: number, mentionAll: boolean): GroupMemberState {
  const member = checkCanChange(state, userId);
  if (member.mutedUntil !== null && member.mutedUntil > now) throw new AppError('MEMBER_MUTED');
  if (state!.mutedAll && member.role === 'member') throw new AppError('GROUP_MUTED');
  if (mentionAll && !GROUP_PERMISSIONS.mention_all.includes(member.role)) throw new AppError('MENTION_ALL_FORBIDDEN');
  return member;
}
