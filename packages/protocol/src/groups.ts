import { z } from 'zod';
import { LIMITS } from './limits.js';
import {
  ConversationSummarySchema,
  GroupJoinModeSchema,
  GroupRoleSchema,
  Id,
  PresenceSchema,
  Timestamp,
  UserPublicSchema,
} from './models.js';

/**
 * Group chat: REST bodies for `/api/v1/groups`. A group is a conversation of kind `group`; its messages use the
 * same pipeline, seq, history, read cursors and sync as a direct conversation (see docs/architecture.md).
 */

const GroupName = z.string().max(LIMITS.groupNameMax * 4);
const GroupDescription = z.string().max(LIMITS.groupDescriptionMax * 4);
const GroupAnnouncement = z.string().max(LIMITS.groupAnnouncementMax * 4);
const GroupAvatar = z.string().max(LIMITS.groupAvatarMax);
const UserIds = z.array(Id).max(LIMITS.groupAddMax);

export const CreateGroupRequestSchema = z.object({
  name: GroupName,
  description: GroupDescription.optional(),
  avatar: GroupAvatar.optional(),
  /** Initial members: friends of the creator. */
  memberIds: UserIds.default([]),
});
export type CreateGroupRequest = z.infer<typeof CreateGroupRequestSchema>;

export const UpdateGroupRequestSchema = z.object({
  name: GroupName.optional(),
  description: GroupDescription.optional(),
  avatar: GroupAvatar.optional(),
  announcement: GroupAnnouncement.optional(),
  joinMode: GroupJoinModeSchema.optional(),
  mutedAll: z.boolean().optional(),
  /** Owner only; at most the server's KKCHAT_GROUP_MEMBER_LIMIT and not below the current member count. */
  memberLimit: z.number().int().min(2).max(1_000_000).optional(),
});
export type UpdateGroupRequest = z.infer<typeof UpdateGroupRequestSchema>;

export const GroupMemberSchema = z.object({
  user: UserPublicSchema,
  role: GroupRoleSchema,
  joinedAt: Timestamp,
  mutedUntil: Timestamp.nullable(),
  presence: PresenceSchema,
});
export type GroupMember = z.infer<typeof GroupMemberSchema>;

export const GroupMemberListResponseSchema = z.object({ members: z.array(GroupMemberSchema) });
export type GroupMemberListResponse = z.infer<typeof GroupMemberListResponseSchema>;

export const AddGroupMembersRequestSchema = z.object({ userIds: UserIds.min(1) });
export type AddGroupMembersRequest = z.infer<typeof AddGroupMembersRequestSchema>;

/** `added`: joined now; `requested`: a join request awaits an admin (approval mode, invited by a member). */
export const AddGroupMembersResponseSchema = z.object({ added: z.array(Id), requested: z.array(Id) });
export type AddGroupMembersResponse = z.infer<typeof AddGroupMembersResponseSchema>;

export const SetGroupRoleRequestSchema = z.object({ role: z.enum(['admin', 'member']) });
export type SetGroupRoleRequest = z.infer<typeof SetGroupRoleRequestSchema>;

/** Mute a member until a moment (null unmutes). */
export const MuteGroupMemberRequestSchema = z.object({ mutedUntil: Timestamp.nullable() });
export type MuteGroupMemberRequest = z.infer<typeof MuteGroupMemberRequestSchema>;

export const TransferGroupRequestSchema = z.object({ userId: Id });
export type TransferGroupRequest = z.infer<typeof TransferGroupRequestSchema>;

export const GroupInviteLinkSchema = z.object({ code: z.string(), createdAt: Timestamp });
export type GroupInviteLink = z.infer<typeof GroupInviteLinkSchema>;
export const GroupInviteLinkResponseSchema = z.object({ link: GroupInviteLinkSchema.nullable() });
export type GroupInviteLinkResponse = z.infer<typeof GroupInviteLinkResponseSchema>;

/** What the holder of an invite link sees before joining. */
export const GroupInvitePreviewSchema = z.object({
  conversationId: Id,
  name: z.string(),
  avatar: z.string(),
  memberCount: z.number().int().nonnegative(),
  joinMode: GroupJoinModeSchema,
});
export type GroupInvitePreview = z.infer<typeof GroupInvitePreviewSchema>;
export const GroupInvitePreviewResponseSchema = z.object({ group: GroupInvitePreviewSchema });

export const JoinGroupRequestSchema = z.object({ note: z.string().max(LIMITS.friendRequestNoteMax * 4).optional() });
export type JoinGroupRequest = z.infer<typeof JoinGroupRequestSchema>;

/** `joined`: a member now (`conversation` set); `requested`: waiting for an admin. */
export const JoinGroupResponseSchema = z.object({
  status: z.enum(['joined', 'requested']),
  conversation: ConversationSummarySchema.nullable(),
});
export type JoinGroupResponse = z.infer<typeof JoinGroupResponseSchema>;

export const GroupJoinRequestSchema = z.object({
  id: Id,
  conversationId: Id,
  user: UserPublicSchema,
  /** The member who invited them (approval mode), or null when they asked through the link. */
  inviterId: Id.nullable(),
  note: z.string(),
  status: z.enum(['pending', 'approved', 'rejected']),
  createdAt: Timestamp,
});
export type GroupJoinRequest = z.infer<typeof GroupJoinRequestSchema>;
export const GroupJoinRequestListResponseSchema = z.object({ requests: z.array(GroupJoinRequestSchema) });
export type GroupJoinRequestListResponse = z.infer<typeof GroupJoinRequestListResponseSchema>;

export const GroupMemberParamsSchema = z.object({ id: Id, userId: Id });
export const GroupRequestParamsSchema = z.object({ id: Id, requestId: Id });
export const InviteCodeParamsSchema = z.object({ code: z.string().min(1).max(64) });
