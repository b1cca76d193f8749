import type { GroupJoinMode, GroupMembershipState, GroupRole, GroupSummary } from '@kkchat/protocol';
import type { GroupState } from './groups.cache.js';
import type { GroupRow } from './groups.repository.js';

/** The viewer's member row, as far as the summary needs it. */
export interface ViewerRow {
  role: string;
  muted_until: number | null;
  left_at: number | null;
  left_reason: string | null;
}

export function toGroupSummary(group: GroupRow, state: GroupState, viewer: ViewerRow): GroupSummary {
  const departed = viewer.left_at !== null;
  return {
    name: group.name,
    description: group.description,
    avatar: group.avatar,
    announcement: group.announcement,
    joinMode: group.join_mode as GroupJoinMode,
    memberLimit: Number(group.member_limit),
    mutedAll: Number(group.muted_all) === 1,
    ownerId: group.owner_id,
    memberCount: state.members.size,
    role: departed ? null : (viewer.role as GroupRole),
    membership: departed ? ((viewer.left_reason ?? 'left') as GroupMembershipState) : 'active',
    mutedUntil: departed || viewer.muted_until === null ? null : Number(viewer.muted_until),
    dismissedAt: group.dismissed_at === null ? null : Number(group.dismissed_at),
    disabledAt: group.disabled_at === null ? null : Number(group.disabled_at),
    disabledReason: group.disabled_reason,
    createdAt: Number(group.created_at),
  };
}
