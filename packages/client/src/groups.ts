import {
  AddGroupMembersResponseSchema,
  ConversationListResponseSchema,
  ConversationResponseSchema,
  GroupInviteLinkResponseSchema,
  GroupInvitePreviewResponseSchema,
  GroupJoinRequestListResponseSchema,
  GroupMemberListResponseSchema,
  JoinGroupResponseSchema,
  type AddGroupMembersResponse,
  type ConversationSummary,
  type CreateGroupRequest,
  type GroupInviteLink,
  type GroupInvitePreview,
  type GroupJoinRequest,
  type GroupMember,
  type JoinGroupResponse,
  type UpdateGroupRequest,
} from '@kkchat/protocol';
import { ApiError } from './errors.js';
import type { HttpClient, HttpMethod } from './http.js';

/**
 * Groups (`/groups`). A group is a conversation of kind 'group': its messages, history, read cursors and sync go
 * through the same calls as a direct conversation (sendText, conversations.history, markRead).
 */
export interface GroupsApi {
  create(request: CreateGroupRequest): Promise<ConversationSummary>;
  /** The user's current groups. */
  list(): Promise<ConversationSummary[]>;
  get(id: string): Promise<ConversationSummary>;
  /** Settings: name, description, avatar, announcement, join mode, mute all, member limit (by role). */
  update(id: string, changes: UpdateGroupRequest): Promise<ConversationSummary>;
  members(id: string): Promise<GroupMember[]>;
  /** Adds friends; in approval groups a plain member's additions become join requests. */
  invite(id: string, userIds: string[]): Promise<AddGroupMembersResponse>;
  remove(id: string, userId: string): Promise<void>;
  setRole(id: string, userId: string, role: 'admin' | 'member'): Promise<void>;
  /** Mutes a member until a moment; null unmutes. */
  mute(id: string, userId: string, mutedUntil: number | null): Promise<void>;
  transfer(id: string, userId: string): Promise<void>;
  leave(id: string): Promise<void>;
  dismiss(id: string): Promise<void>;
  inviteLink(id: string): Promise<GroupInviteLink | null>;
  /** A new link; the previous one stops working. */
  createInviteLink(id: string): Promise<GroupInviteLink>;
  revokeInviteLink(id: string): Promise<void>;
  previewInvite(code: string): Promise<GroupInvitePreview>;
  joinViaLink(code: string, note?: string): Promise<JoinGroupResponse>;
  requests(id: string): Promise<GroupJoinRequest[]>;
  approve(id: string, requestId: string): Promise<void>;
  reject(id: string, requestId: string): Promise<void>;
}

function seg(id: string): string {
  if (id === '' || id === '.' || id === '..') throw ApiError.of('VALIDATION_FAILED', `Invalid id "${id}".`);
  return encodeURIComponent(id);
}

export function createGroupsApi(http: HttpClient): GroupsApi {
  const base = (id: string) => `/groups/${seg(id)}`;
  const summary = async (method: HttpMethod, path: string, body?: unknown) =>
    (await http.request(method, path, { ...(body !== undefined ? { body } : {}), schema: ConversationResponseSchema })).conversation;
  const action = async (method: HttpMethod, path: string, body: unknown = {}) => {
    await http.request(method, path, method === 'DELETE' ? {} : { body });
  };
  return {
    create: (request) => summary('POST', '/groups', request),
    list: async () => (await http.request('GET', '/groups', { schema: ConversationListResponseSchema })).conversations,
    get: (id) => summary('GET', base(id)),
    update: (id, changes) => summary('PATCH', base(id), changes),
    members: async (id) => (await http.request('GET', `${base(id)}/members`, { schema: GroupMemberListResponseSchema })).members,
    invite: (id, userIds) => http.request('POST', `${base(id)}/members`, { body: { userIds }, schema: AddGroupMembersResponseSchema }),
    remove: (id, userId) => action('DELETE', `${base(id)}/members/${seg(userId)}`),
    setRole: (id, userId, role) => action('PUT', `${base(id)}/members/${seg(userId)}/role`, { role }),
    mute: (id, userId, mutedUntil) => action('PUT', `${base(id)}/members/${seg(userId)}/mute`, { mutedUntil }),
    transfer: (id, userId) => action('POST', `${base(id)}/transfer`, { userId }),
    leave: (id) => action('POST', `${base(id)}/leave`),
    dismiss: (id) => action('POST', `${base(id)}/dismiss`),
    inviteLink: async (id) => (await http.request('GET', `${base(id)}/invite-link`, { schema: GroupInviteLinkResponseSchema })).link,
    async createInviteLink(id) {
      const { link } = await http.request('POST', `${base(id)}/invite-link`, { body: {}, schema: GroupInviteLinkResponseSchema });
      if (!link) throw ApiError.of('INTERNAL');
      return link;
    },
    revokeInviteLink: (id) => action('DELETE', `${base(id)}/invite-link`),
    previewInvite: async (code) => (await http.request('GET', `/groups/invites/${seg(code)}`, { schema: GroupInvitePreviewResponseSchema })).group,
    joinViaLink: (code, note) =>
      http.request('POST', `/groups/invites/${seg(code)}/join`, { body: note ? { note } : {}, schema: JoinGroupResponseSchema }),
    requests: async (id) => (await http.request('GET', `${base(id)}/requests`, { schema: GroupJoinRequestListResponseSchema })).requests,
    approve: (id, requestId) => action('POST', `${base(id)}/requests/${seg(requestId)}/approve`),
    reject: (id, requestId) => action('POST', `${base(id)}/requests/${seg(requestId)}/reject`),
  };
}
