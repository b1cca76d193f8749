import {
  AcceptFriendRequestResponseSchema,
  BlockListResponseSchema,
  ContactListResponseSchema,
  FriendRequestListResponseSchema,
  FriendRequestResponseSchema,
  IdParamsSchema,
  SendFriendRequestSchema,
  UserIdParamsSchema,
  UserSearchQuerySchema,
  UserSearchResponseSchema,
} from '@kkchat/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../../context.js';

const tags = ['contacts'];

export const contactRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const contacts = services.contacts;

  app.get(
    '/users/search',
    {
      schema: {
        tags,
        summary: 'Find users by username or display name',
        querystring: UserSearchQuerySchema,
        response: { 200: UserSearchResponseSchema },
      },
    },
    async (request) => ({ users: await contacts.searchUsers(request.actor, request.query.q, request.query.limit) }),
  );

  app.get(
    '/contacts',
    { schema: { tags, summary: 'Friends with presence', response: { 200: ContactListResponseSchema } } },
    async (request) => ({ contacts: await contacts.listContacts(request.actor) }),
  );

  app.delete(
    '/contacts/:userId',
    { schema: { tags, summary: 'Remove a friend', params: UserIdParamsSchema, response: { 204: z.null() } } },
    async (request, reply) => {
      await contacts.removeFriend(request.actor, request.params.userId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/friend-requests',
    { schema: { tags, summary: 'Pending requests, incoming and outgoing', response: { 200: FriendRequestListResponseSchema } } },
    async (request) => contacts.listRequests(request.actor),
  );

  app.post(
    '/friend-requests',
    {
      schema: {
        tags,
        summary: 'Send a friend request (accepts theirs if they already asked you)',
        body: SendFriendRequestSchema,
        response: { 201: FriendRequestResponseSchema },
      },
    },
    async (request, reply) => {
      const sent = await contacts.sendFriendRequest(request.actor, request.body.userId, request.body.note);
      return reply.status(201).send({ request: sent });
    },
  );

  app.post(
    '/friend-requests/:id/accept',
    {
      schema: { tags, summary: 'Accept a request sent to you', params: IdParamsSchema, response: { 200: AcceptFriendRequestResponseSchema } },
    },
    async (request) => contacts.acceptFriendRequest(request.actor, request.params.id),
  );

  app.post(
    '/friend-requests/:id/reject',
    { schema: { tags, summary: 'Reject a request sent to you', params: IdParamsSchema, response: { 200: FriendRequestResponseSchema } } },
    async (request) => ({ request: await contacts.rejectFriendRequest(request.actor, request.params.id) }),
  );

  app.post(
    '/friend-requests/:id/cancel',
    { schema: { tags, summary: 'Withdraw a request you sent', params: IdParamsSchema, response: { 200: FriendRequestResponseSchema } } },
    async (request) => ({ request: await contacts.cancelFriendRequest(request.actor, request.params.id) }),
  );

  app.get(
    '/blocks',
    { schema: { tags, summary: 'Users you blocked', response: { 200: BlockListResponseSchema } } },
    async (request) => ({ blocks: await contacts.listBlocks(request.actor) }),
  );

  app.put(
    '/blocks/:userId',
    { schema: { tags, summary: 'Block a user', params: UserIdParamsSchema, response: { 204: z.null() } } },
    async (request, reply) => {
      await contacts.blockUser(request.actor, request.params.userId);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/blocks/:userId',
    { schema: { tags, summary: 'Unblock a user', params: UserIdParamsSchema, response: { 204: z.null() } } },
    async (request, reply) => {
      await contacts.unblockUser(request.actor, request.params.userId);
      return reply.status(204).send(null);
    },
  );
};
