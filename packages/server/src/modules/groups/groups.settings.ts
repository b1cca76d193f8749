import { cleanDisplayName, codePointLength, LIMITS, type SystemEvent, type UpdateGroupRequest } from '@kkchat/protocol';
import { AppError } from '../../errors.js';
import type { GroupMemberState } from './groups.cache.js';
import { checkAllowed } from './groups.policy.js';
import type { GroupRow } from './groups.repository.js';

/**
 * What a settings request changes: the row fields and one system event per visible change. Checks the actor's
 * role for each kind of change (settings: owner/admins; mute all: owner/admins; member limit: owner).
 */
export function settingsChanges(
  group: GroupRow,
  input: UpdateGroupRequest,
  me: GroupMemberState,
  context: { actorId: string; memberCount: number; serverLimit: number },
): { changes: Partial<GroupRow>; events: SystemEvent[] } {
  const changes: Partial<GroupRow> = {};
  const events: SystemEvent[] = [];
  const base = { actorId: context.actorId };
  if (input.name !== undefined && checkName(input.name) !== group.name) {
    changes.name = checkName(input.name);
    events.push({ ...base, type: 'name_changed', value: changes.name });
  }
  if (input.description !== undefined && input.description !== group.description) {
    changes.description = checkText(input.description, LIMITS.groupDescriptionMax);
    events.push({ ...base, type: 'description_changed', value: changes.description });
  }
  if (input.avatar !== undefined && input.avatar !== group.avatar) {
    changes.avatar = input.avatar;
    events.push({ ...base, type: 'avatar_changed', value: input.avatar });
  }
  if (input.announcement !== undefined && input.announcement !== group.announcement) {
    changes.announcement = checkText(input.announcement, LIMITS.groupAnnouncementMax);
    events.push({ ...base, type: 'announcement_changed', value: changes.announcement });
  }
  if (input.joinMode !== undefined && input.joinMode !== group.join_mode) {
    changes.join_mode = input.joinMode;
    events.push({ ...base, type: 'join_mode_changed', joinMode: input.joinMode });
  }
  if (input.mutedAll !== undefined && input.mutedAll !== (Number(group.muted_all) === 1)) {
    checkAllowed(me, 'mute_all');
    changes.muted_all = input.mutedAll ? 1 : 0;
    events.push({ ...base, type: 'muted_all_changed', mutedAll: input.mutedAll });
  }
  if (events.length > 0) checkAllowed(me, 'update_settings');
  if (input.memberLimit !== undefined && input.memberLimit !== Number(group.member_limit)) {
    checkAllowed(me, 'set_member_limit');
    if (input.memberLimit > context.serverLimit || input.memberLimit < context.memberCount) {
      throw new AppError('VALIDATION_FAILED', { fields: [{ field: 'memberLimit', message: 'between the member count and the server limit' }] });
    }
    changes.member_limit = input.memberLimit;
  }
  return { changes, events };
}

/** A group name: cleaned like a display name (BR-30), 1 to groupNameMax visible characters. */
export function checkName(raw: string): string {
  const name = cleanDisplayName(raw);
  if (!name || codePointLength(name) > LIMITS.groupNameMax) {
    throw new AppError('VALIDATION_FAILED', { fields: [{ field: 'name', message: `1 to ${LIMITS.groupNameMax} visible characters` }] });
  }
  return name;
}

/** Free text with a length limit in code points. */
export function checkText(raw: string, max: number): string {
  if (codePointLength(raw) > max) throw new AppError('VALIDATION_FAILED', { fields: [{ field: 'text', message: `at most ${max} characters` }] });
  return raw;
}
