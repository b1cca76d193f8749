import { SetAvatarRequestSchema, UpdateProfileRequestSchema, UserResponseSchema, IdParamsSchema } from '@kkchat/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../context.js';

export const userRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/users/me',
    { schema: { tags: ['users'], summary: 'The signed-in user', response: { 200: UserResponseSchema } } },
    async (request) => ({ user: await services.users.getMe(request.actor) }),
  );

  app.patch(
    '/users/me',
    {
      schema: {
        tags: ['users'],
        summary: 'Edit display name and bio',
        body: UpdateProfileRequestSchema,
        response: { 200: UserResponseSchema },
      },
    },
    async (request) => ({ user: await services.users.updateProfile(request.actor, request.body) }),
  );

  app.put(
    '/users/me/avatar',
    {
      schema: {
        tags: ['users'],
        summary: 'Set your avatar: an uploaded image (purpose "avatar")',
        body: SetAvatarRequestSchema,
        response: { 200: UserResponseSchema },
      },
    },
    async (request) => ({ user: await services.users.setAvatar(request.actor, request.body.fileId) }),
  );

  app.delete(
    '/users/me/avatar',
    { schema: { tags: ['users'], summary: 'Remove your avatar', response: { 200: UserResponseSchema } } },
    async (request) => ({ user: await services.users.setAvatar(request.actor, null) }),
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'A user\'s public profile',
        params: IdParamsSchema,
        response: { 200: UserResponseSchema },
      },
    },
    async (request) => ({ user: await services.users.getUser(request.actor, request.params.id) }),
  );
};
