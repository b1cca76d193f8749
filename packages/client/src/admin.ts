import {
  AdminBulkDisableResponseSchema,
  AdminGroupListResponseSchema,
  AdminGroupResponseSchema,
  AdminGroupResultSchema,
  AdminMessagesResponseSchema,
  AdminRemoveMessageResponseSchema,
  AdminResetPasswordResponseSchema,
  AdminStatsSchema,
  AdminUserListResponseSchema,
  AdminUserResponseSchema,
  AdminUserResultSchema,
  AuditListResponseSchema,
  type AccountRole,
  type AdminBulkDisableResponse,
  type AdminGroup,
  type AdminGroupDetails,
  type AdminGroupListQuery,
  type AdminGroupListResponse,
  type AdminMessagesQuery,
  type AdminMessagesResponse,
  type AdminStats,
  type AdminStatsQuery,
  type AdminUser,
  type AdminUserDetails,
  type AdminUserListQuery,
  type AdminUserListResponse,
  type AuditListResponse,
  type AuditQuery,
  type RemovedMessage,
} from '@kkchat/protocol';
import { ApiError } from './errors.js';
import type { HttpClient } from './http.js';

/**
 * The admin API (`/admin`), for accounts with the role `admin` (`AuthResult.role`); anyone else gets
 * ApiError ADMIN_REQUIRED. Every action takes a reason, which the audit log records.
 */
export interface AdminApi {
  users(query?: AdminUserListQuery): Promise<AdminUserListResponse>;
  user(id: string): Promise<AdminUserDetails>;
  setRole(id: string, role: AccountRole, reason: string): Promise<AdminUser>;
  /** Closes the user's sockets at once, revokes every session, refuses sign-in until enabled. */
  disable(id: string, reason: string): Promise<AdminUser>;
  enable(id: string, reason: string): Promise<AdminUser>;
  disableMany(ids: string[], reason: string): Promise<AdminBulkDisableResponse>;
  signOut(id: string, reason: string): Promise<AdminUser>;
  /** Returns the one-time password (shown once); the user must replace it at the next sign-in. */
  resetPassword(id: string, reason: string): Promise<string>;
  /** Anonymises the account; its messages stay, shown as from a deleted user. */
  deleteUser(id: string, reason: string): Promise<AdminUser>;
  groups(query?: AdminGroupListQuery): Promise<AdminGroupListResponse>;
  group(id: string): Promise<AdminGroupDetails>;
  disableGroup(id: string, reason: string): Promise<AdminGroup>;
  enableGroup(id: string, reason: string): Promise<AdminGroup>;
  deleteGroup(id: string, reason: string): Promise<AdminGroup>;
  /** A page of any conversation, newest below `before` (the read is audited). */
  messages(conversationId: string, query?: AdminMessagesQuery): Promise<AdminMessagesResponse>;
  removeMessage(conversationId: string, seq: number, reason: string): Promise<RemovedMessage>;
  audit(query?: AuditQuery): Promise<AuditListResponse>;
  stats(query?: AdminStatsQuery): Promise<AdminStats>;
}

function seg(id: string): string {
  if (id === '' || id === '.' || id === '..') throw ApiError.of('VALIDATION_FAILED', `Invalid id "${id}".`);
  return encodeURIComponent(id);
}

const UserResult = AdminUserResultSchema;
const GroupResult = AdminGroupResultSchema;

type Query = Record<string, string | number | undefined>;

export function createAdminApi(http: HttpClient): AdminApi {
  const userAction = async (id: string, action: string, reason: string) =>
    (await http.request('POST', `/admin/users/${seg(id)}/${action}`, { body: { reason }, schema: UserResult })).user;
  const groupAction = async (id: string, action: string, reason: string) =>
    (await http.request('POST', `/admin/groups/${seg(id)}/${action}`, { body: { reason }, schema: GroupResult })).group;
  return {
    users: (query = {}) => http.request('GET', '/admin/users', { query: query as Query, schema: AdminUserListResponseSchema }),
    user: async (id) => (await http.request('GET', `/admin/users/${seg(id)}`, { schema: AdminUserResponseSchema })).user,
    setRole: async (id, role, reason) =>
      (await http.request('POST', `/admin/users/${seg(id)}/role`, { body: { role, reason }, schema: UserResult })).user,
    disable: (id, reason) => userAction(id, 'disable', reason),
    enable: (id, reason) => userAction(id, 'enable', reason),
    disableMany: (userIds, reason) => http.request('POST', '/admin/users/disable', { body: { userIds, reason }, schema: AdminBulkDisableResponseSchema }),
    signOut: (id, reason) => userAction(id, 'sign-out', reason),
    resetPassword: async (id, reason) =>
      (await http.request('POST', `/admin/users/${seg(id)}/reset-password`, { body: { reason }, schema: AdminResetPasswordResponseSchema })).oneTimePassword,
    deleteUser: (id, reason) => userAction(id, 'delete', reason),
    groups: (query = {}) => http.request('GET', '/admin/groups', { query: query as Query, schema: AdminGroupListResponseSchema }),
    group: async (id) => (await http.request('GET', `/admin/groups/${seg(id)}`, { schema: AdminGroupResponseSchema })).group,
    disableGroup: (id, reason) => groupAction(id, 'disable', reason),
    enableGroup: (id, reason) => groupAction(id, 'enable', reason),
    deleteGroup: (id, reason) => groupAction(id, 'delete', reason),
    messages: (conversationId, query = {}) =>
      http.request('GET', `/admin/conversations/${seg(conversationId)}/messages`, { query: query as Query, schema: AdminMessagesResponseSchema }),
    removeMessage: async (conversationId, seq, reason) =>
      (
        await http.request('POST', `/admin/conversations/${seg(conversationId)}/messages/${seq}/remove`, {
          body: { reason },
          schema: AdminRemoveMessageResponseSchema,
        })
      ).message,
    audit: (query = {}) => http.request('GET', '/admin/audit', { query: query as Query, schema: AuditListResponseSchema }),
    stats: (query = {}) => http.request('GET', '/admin/stats', { query: query as Query, schema: AdminStatsSchema }),
  };
}
