import {
  AdminActionRequestSchema,
  AdminBulkDisableRequestSchema,
  AdminBulkDisableResponseSchema,
  AdminGroupListQuerySchema,
  AdminGroupListResponseSchema,
  AdminGroupResponseSchema,
  AdminGroupResultSchema,
  type AdminGroup,
  AdminIdParamsSchema,
  AdminMessageParamsSchema,
  AdminMessagesQuerySchema,
  AdminMessagesResponseSchema,
  AdminRemoveMessageResponseSchema,
  AdminResetPasswordResponseSchema,
  AdminSetRoleRequestSchema,
  AdminStatsQuerySchema,
  AdminStatsSchema,
  AdminUserListQuerySchema,
  AdminUserListResponseSchema,
  AdminUserResponseSchema,
  AdminUserResultSchema,
  type AdminUser,
  AuditListResponseSchema,
  AuditQuerySchema,
} from '@kkchat/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../context.js';

const tags = ['admin'];
const UserResult = AdminUserResultSchema;
const GroupResult = AdminGroupResultSchema;

/**
 * The admin API. Thin: every handler calls one admin service method, which checks the caller's role first
 * (admin.policy.ts); nothing here authorizes. The audit log has only a GET: it is append-only through the API.
 */
export const adminRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const users = services.adminUsers;
  const groups = services.adminGroups;
  const userAction = (path: string, summary: string, run: (actor: Parameters<typeof users.disable>[0], id: string, reason: string) => Promise<AdminUser>) =>
    app.post(
      `/admin/users/:id/${path}`,
      { schema: { tags, summary, params: AdminIdParamsSchema, body: AdminActionRequestSchema, response: { 200: UserResult } } },
      async (request) => ({ user: await run(request.actor, request.params.id, request.body.reason) }),
    );
  const groupAction = (path: string, summary: string, run: (actor: Parameters<typeof groups.disable>[0], id: string, reason: string) => Promise<AdminGroup>) =>
    app.post(
      `/admin/groups/:id/${path}`,
      { schema: { tags, summary, params: AdminIdParamsSchema, body: AdminActionRequestSchema, response: { 200: GroupResult } } },
      async (request) => ({ group: await run(request.actor, request.params.id, request.body.reason) }),
    );

  // ---- users ----
  app.get(
    '/admin/users',
    { schema: { tags, summary: 'Accounts: search, filters and paging', querystring: AdminUserListQuerySchema, response: { 200: AdminUserListResponseSchema } } },
    async (request) => users.list(request.actor, request.query),
  );
  app.get(
    '/admin/users/:id',
    { schema: { tags, summary: 'One account with its sessions, groups and conversations', params: AdminIdParamsSchema, response: { 200: AdminUserResponseSchema } } },
    async (request) => ({ user: await users.get(request.actor, request.params.id) }),
  );
  app.post(
    '/admin/users/:id/role',
    { schema: { tags, summary: 'Grant or revoke the admin role', params: AdminIdParamsSchema, body: AdminSetRoleRequestSchema, response: { 200: UserResult } } },
    async (request) => ({ user: await users.setRole(request.actor, request.params.id, request.body.role, request.body.reason) }),
  );
  userAction('disable', 'Disable: sockets closed at once, sessions revoked, sign-in refused', (a, id, r) => users.disable(a, id, r));
  userAction('enable', 'Enable a disabled account', (a, id, r) => users.enable(a, id, r));
  userAction('sign-out', 'Sign the user out on every device', (a, id, r) => users.signOut(a, id, r));
  userAction('delete', 'Delete and anonymise the account; its messages stay as from a deleted user', (a, id, r) => users.delete(a, id, r));
  app.post(
    '/admin/users/:id/reset-password',
    {
      schema: {
        tags,
        summary: 'Replace the password with a one-time password (shown once) that must be changed at sign-in',
        params: AdminIdParamsSchema,
        body: AdminActionRequestSchema,
        response: { 200: AdminResetPasswordResponseSchema },
      },
    },
    async (request) => users.resetPassword(request.actor, request.params.id, request.body.reason),
  );
  app.post(
    '/admin/users/disable',
    { schema: { tags, summary: 'Disable up to 100 accounts at once', body: AdminBulkDisableRequestSchema, response: { 200: AdminBulkDisableResponseSchema } } },
    async (request) => users.bulkDisable(request.actor, request.body.userIds, request.body.reason),
  );

  // ---- groups and messages ----
  app.get(
    '/admin/groups',
    { schema: { tags, summary: 'Groups: search, status filter and paging', querystring: AdminGroupListQuerySchema, response: { 200: AdminGroupListResponseSchema } } },
    async (request) => groups.list(request.actor, request.query),
  );
  app.get(
    '/admin/groups/:id',
    { schema: { tags, summary: 'One group with its members', params: AdminIdParamsSchema, response: { 200: AdminGroupResponseSchema } } },
    async (request) => ({ group: await groups.get(request.actor, request.params.id) }),
  );
  groupAction('disable', 'Disable: read-only for everyone, hidden from outsiders, members see the reason', (a, id, r) => groups.disable(a, id, r));
  groupAction('enable', 'Enable a disabled group', (a, id, r) => groups.enable(a, id, r));
  groupAction('delete', 'Dismiss the group for everyone (members are told; history stays read-only)', (a, id, r) => groups.delete(a, id, r));
  app.get(
    '/admin/conversations/:id/messages',
    {
      schema: {
        tags,
        summary: 'A page of any conversation for moderation (the read is recorded in the audit log)',
        params: AdminIdParamsSchema,
        querystring: AdminMessagesQuerySchema,
        response: { 200: AdminMessagesResponseSchema },
      },
    },
    async (request) => groups.messages(request.actor, request.params.id, request.query),
  );
  app.post(
    '/admin/conversations/:id/messages/:seq/remove',
    {
      schema: {
        tags,
        summary: 'Remove a message for everyone: a tombstone in its place, live and in sync',
        params: AdminMessageParamsSchema,
        body: AdminActionRequestSchema,
        response: { 200: AdminRemoveMessageResponseSchema },
      },
    },
    async (request) => ({ message: await groups.removeMessage(request.actor, request.params.id, request.params.seq, request.body.reason) }),
  );

  // ---- audit log and dashboard ----
  app.get(
    '/admin/audit',
    { schema: { tags, summary: 'The audit log, newest first, filtered', querystring: AuditQuerySchema, response: { 200: AuditListResponseSchema } } },
    async (request) => services.audit.list(request.actor, request.query),
  );
  app.get(
    '/admin/stats',
    { schema: { tags, summary: 'Dashboard figures', querystring: AdminStatsQuerySchema, response: { 200: AdminStatsSchema } } },
    async (request) => services.adminStats.stats(request.actor, request.query),
  );
};
