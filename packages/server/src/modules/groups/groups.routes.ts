import {
  AddGroupMembersRequestSchema,
  AddGroupMembersResponseSchema,
  ConversationListResponseSchema,
  ConversationResponseSchema,
  CreateGroupRequestSchema,
  GroupInviteLinkResponseSchema,
  GroupInvitePreviewResponseSchema,
  GroupJoinRequestListResponseSchema,
  GroupMemberListResponseSchema,
  GroupMemberParamsSchema,
  GroupRequestParamsSchema,
  IdParamsSchema,
  InviteCodeParamsSchema,
  JoinGroupRequestSchema,
  JoinGroupResponseSchema,
  MuteGroupMemberRequestSchema,
  SetGroupRoleRequestSchema,
  TransferGroupRequestSchema,
  UpdateGroupRequestSchema,
} from '@kkchat/protocol';
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../context.js';

const tags = ['groups'];
const Empty = z.object({ ok: z.literal(true) });
const ok = { ok: true as const };

/** `/groups`: thin handlers, one service call each; authorization is in GroupService. */
export const groupRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const groups = services.groups;

  app.post(
    '/groups',
    { schema: { tags, summary: 'Create a group with friends', body: CreateGroupRequestSchema, response: { 201: ConversationResponseSchema } } },
    async (request, reply) => reply.status(201).send({ conversation: await groups.createGroup(request.actor, request.body) }),
  );
  app.get(
    '/groups',
    { schema: { tags, summary: 'Your current groups', response: { 200: ConversationListResponseSchema } } },
    async (request) => ({ conversations: await groups.listGroups(request.actor) }),
  );
  app.get(
    '/groups/invites/:code',
    { schema: { tags, summary: 'What an invite link leads to', params: InviteCodeParamsSchema, response: { 200: GroupInvitePreviewResponseSchema } } },
    async (request) => ({ group: await groups.previewInvite(request.actor, request.params.code) }),
  );
  app.post(
    '/groups/invites/:code/join',
    {
      schema: { tags, summary: 'Join (open) or ask to join (approval) through an invite link', params: InviteCodeParamsSchema, body: JoinGroupRequestSchema, response: { 200: JoinGroupResponseSchema } },
    },
    async (request) => groups.joinByInvite(request.actor, request.params.code, request.body.note ?? ''),
  );
  app.get(
    '/groups/:id',
    { schema: { tags, summary: 'One group', params: IdParamsSchema, response: { 200: ConversationResponseSchema } } },
    async (request) => ({ conversation: await groups.getGroup(request.actor, request.params.id) }),
  );
  app.patch(
    '/groups/:id',
    { schema: { tags, summary: 'Change settings (owner/admins; member limit: owner)', params: IdParamsSchema, body: UpdateGroupRequestSchema, response: { 200: ConversationResponseSchema } } },
    async (request) => ({ conversation: await groups.updateGroup(request.actor, request.params.id, request.body) }),
  );
  app.get(
    '/groups/:id/members',
    { schema: { tags, summary: 'Current members with roles and presence', params: IdParamsSchema, response: { 200: GroupMemberListResponseSchema } } },
    async (request) => ({ members: await groups.listMembers(request.actor, request.params.id) }),
  );
  app.post(
    '/groups/:id/members',
    { schema: { tags, summary: 'Add friends (or request their joining, by the join mode)', params: IdParamsSchema, body: AddGroupMembersRequestSchema, response: { 200: AddGroupMembersResponseSchema } } },
    async (request) => groups.addMembers(request.actor, request.params.id, request.body.userIds),
  );
  app.delete(
    '/groups/:id/members/:userId',
    { schema: { tags, summary: 'Remove a member (admins remove members; the owner removes admins)', params: GroupMemberParamsSchema, response: { 200: Empty } } },
    async (request) => (await groups.removeMember(request.actor, request.params.id, request.params.userId), ok),
  );
  app.put(
    '/groups/:id/members/:userId/role',
    { schema: { tags, summary: 'Appoint or demote an admin (owner)', params: GroupMemberParamsSchema, body: SetGroupRoleRequestSchema, response: { 200: Empty } } },
    async (request) => (await groups.setRole(request.actor, request.params.id, request.params.userId, request.body.role), ok),
  );
  app.put(
    '/groups/:id/members/:userId/mute',
    { schema: { tags, summary: 'Mute a member until a time (null unmutes)', params: GroupMemberParamsSchema, body: MuteGroupMemberRequestSchema, response: { 200: Empty } } },
    async (request) => (await groups.muteMember(request.actor, request.params.id, request.params.userId, request.body.mutedUntil), ok),
  );
  app.post(
    '/groups/:id/transfer',
    { schema: { tags, summary: 'Hand the group to another member (owner)', params: IdParamsSchema, body: TransferGroupRequestSchema, response: { 200: Empty } } },
    async (request) => (await groups.transfer(request.actor, request.params.id, request.body.userId), ok),
  );
  app.post(
    '/groups/:id/leave',
    { schema: { tags, summary: 'Leave (history up to now stays readable)', params: IdParamsSchema, response: { 200: Empty } } },
    async (request) => (await groups.leave(request.actor, request.params.id), ok),
  );
  app.post(
    '/groups/:id/dismiss',
    { schema: { tags, summary: 'Dismiss the group (owner): read-only history for all', params: IdParamsSchema, response: { 200: Empty } } },
    async (request) => (await groups.dismiss(request.actor, request.params.id), ok),
  );
  app.get(
    '/groups/:id/invite-link',
    { schema: { tags, summary: 'The current invite link (owner/admins)', params: IdParamsSchema, response: { 200: GroupInviteLinkResponseSchema } } },
    async (request) => ({ link: await groups.getInviteLink(request.actor, request.params.id) }),
  );
  app.post(
    '/groups/:id/invite-link',
    { schema: { tags, summary: 'Create a new invite link, revoking the old one (owner/admins)', params: IdParamsSchema, response: { 200: GroupInviteLinkResponseSchema } } },
    async (request) => ({ link: await groups.createInviteLink(request.actor, request.params.id) }),
  );
  app.delete(
    '/groups/:id/invite-link',
    { schema: { tags, summary: 'Revoke the invite link (owner/admins)', params: IdParamsSchema, response: { 200: Empty } } },
    async (request) => (await groups.revokeInviteLink(request.actor, request.params.id), ok),
  );
  app.get(
    '/groups/:id/requests',
    { schema: { tags, summary: 'Pending join requests (owner/admins)', params: IdParamsSchema, response: { 200: GroupJoinRequestListResponseSchema } } },
    async (request) => ({ requests: await groups.listRequests(request.actor, request.params.id) }),
  );
  app.post(
    '/groups/:id/requests/:requestId/approve',
    { schema: { tags, summary: 'Approve a join request (owner/admins)', params: GroupRequestParamsSchema, response: { 200: Empty } } },
    async (request) => (await groups.decideRequest(request.actor, request.params.id, request.params.requestId, true), ok),
  );
  app.post(
    '/groups/:id/requests/:requestId/reject',
    { schema: { tags, summary: 'Reject a join request (owner/admins)', params: GroupRequestParamsSchema, response: { 200: Empty } } },
    async (request) => (await groups.decideRequest(request.actor, request.params.id, request.params.requestId, false), ok),
  );
};
