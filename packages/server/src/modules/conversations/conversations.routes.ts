import {
  ConversationListResponseSchema,
  ConversationResponseSchema,
  HistoryQuerySchema,
  HistoryResponseSchema,
  IdParamsSchema,
  MarkReadRequestSchema,
  MarkReadResponseSchema,
  OpenDirectConversationRequestSchema,
  SendMessageRequestSchema,
  SendMessageResponseSchema,
} from '@kkchat/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../context.js';

const tags = ['conversations'];

export const conversationRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const conversations = services.conversations;

  app.get(
    '/conversations',
    {
      schema: { tags, summary: 'Conversations with last message and unread count', response: { 200: ConversationListResponseSchema } },
    },
    async (request) => ({ conversations: await conversations.listConversations(request.actor) }),
  );

  app.post(
    '/conversations/direct',
    {
      schema: {
        tags,
        summary: 'The one-to-one conversation with a friend',
        body: OpenDirectConversationRequestSchema,
        response: { 200: ConversationResponseSchema },
      },
    },
    async (request) => ({ conversation: await conversations.openDirect(request.actor, request.body.userId) }),
  );

  app.get(
    '/conversations/:id',
    { schema: { tags, summary: 'One conversation', params: IdParamsSchema, response: { 200: ConversationResponseSchema } } },
    async (request) => ({ conversation: await conversations.getConversation(request.actor, request.params.id) }),
  );

  app.get(
    '/conversations/:id/messages',
    {
      schema: {
        tags,
        summary: 'History by seq: after=n pages forward (catch-up), before=n pages back, at most 100 per page',
        params: IdParamsSchema,
        querystring: HistoryQuerySchema,
        response: { 200: HistoryResponseSchema },
      },
    },
    async (request) => conversations.history(request.actor, request.params.id, request.query),
  );

  app.post(
    '/conversations/:id/messages',
    {
      schema: {
        tags,
        summary: 'Send a message (same pipeline as the WebSocket send; idempotent on clientMsgId)',
        params: IdParamsSchema,
        body: SendMessageRequestSchema,
        response: { 200: SendMessageResponseSchema, 201: SendMessageResponseSchema },
      },
    },
    async (request, reply) => {
      const result = await conversations.sendMessage(request.actor, request.params.id, request.body);
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );

  app.post(
    '/conversations/:id/read',
    {
      schema: {
        tags,
        summary: 'Move your read cursor forward',
        params: IdParamsSchema,
        body: MarkReadRequestSchema,
        response: { 200: MarkReadResponseSchema },
      },
    },
    async (request) => conversations.markRead(request.actor, request.params.id, request.body.seq),
  );
};
