import {
  AuthResultSchema,
  ChangePasswordRequestSchema,
  IdParamsSchema,
  LoginRequestSchema,
  RefreshRequestSchema,
  RegisterRequestSchema,
  RenewPasswordRequestSchema,
  SessionListResponseSchema,
  type AuthResult,
} from '@kkchat/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../../context.js';
import { AppError } from '../../errors.js';
import type { ClientInfo } from './auth.service.js';

/** The web app keeps its refresh token in this httpOnly cookie, out of reach of page scripts. */
export const REFRESH_COOKIE = 'kkchat_refresh';
const COOKIE_PATH = '/api/v1/auth';

function clientInfo(request: FastifyRequest, deviceName?: string): ClientInfo {
  return { ip: request.ip, userAgent: request.headers['user-agent'] ?? '', deviceName };
}

/**
 * A readable marker beside the httpOnly refresh cookie. It holds no secret; it only lets the web app skip the
 * refresh call (and its 401) when nobody is signed in on this browser.
 */
export const SESSION_MARKER_COOKIE = 'kkchat_session';

function setRefreshCookie(request: FastifyRequest, reply: FastifyReply, result: AuthResult): void {
  const common = {
    sameSite: 'strict' as const,
    secure: request.protocol === 'https',
    expires: new Date(result.refreshTokenExpiresAt),
  };
  reply.setCookie(REFRESH_COOKIE, result.refreshToken, { ...common, httpOnly: true, path: COOKIE_PATH });
  reply.setCookie(SESSION_MARKER_COOKIE, '1', { ...common, httpOnly: false, path: '/' });
}

function clearRefreshCookie(reply: FastifyReply): void {
  reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH });
  reply.clearCookie(SESSION_MARKER_COOKIE, { path: '/' });
}

/** Routes that work without an access token. */
export const publicAuthRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account and sign in',
        body: RegisterRequestSchema,
        response: { 201: AuthResultSchema },
      },
    },
    async (request, reply) => {
      const result = await services.auth.register(request.body, clientInfo(request, request.body.deviceName));
      setRefreshCookie(request, reply, result);
      return reply.status(201).send(result);
    },
  );

  app.post(
    '/auth/login',
    {
      schema: { tags: ['auth'], summary: 'Sign in', body: LoginRequestSchema, response: { 200: AuthResultSchema } },
    },
    async (request, reply) => {
      const result = await services.auth.login(request.body, clientInfo(request, request.body.deviceName));
      setRefreshCookie(request, reply, result);
      return result;
    },
  );

  app.post(
    '/auth/password/renew',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in while replacing the password (required after an administrator reset it)',
        body: RenewPasswordRequestSchema,
        response: { 201: AuthResultSchema },
      },
    },
    async (request, reply) => {
      const result = await services.auth.renewPassword(request.body, clientInfo(request, request.body.deviceName));
      setRefreshCookie(request, reply, result);
      return reply.status(201).send(result);
    },
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token (body or cookie) for new tokens; the old one stops working',
        body: RefreshRequestSchema.optional(),
        response: { 200: AuthResultSchema },
      },
      // A cookie-only refresh may come without a body; Fastify validates a missing body as null, which the
      // optional schema would refuse.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => {
      const fromBody = request.body?.refreshToken;
      const token = fromBody ?? request.cookies[REFRESH_COOKIE];
      if (!token) throw new AppError('REFRESH_TOKEN_INVALID');
      try {
        const result = await services.auth.refresh(token);
        setRefreshCookie(request, reply, result);
        // A refresh made with the cookie (the web app) gets its new refresh token in the cookie only: echoing it
        // in the body would hand it to any script on the page, which is what the httpOnly cookie prevents.
        return fromBody ? result : { ...result, refreshToken: '' };
      } catch (error) {
        clearRefreshCookie(reply);
        throw error;
      }
    },
  );
};

/** Routes for the signed-in user's own sessions. */
export const sessionRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/auth/logout',
    { schema: { tags: ['auth'], summary: 'Sign out this session and close its sockets', response: { 204: z.null() } } },
    async (request, reply) => {
      await services.auth.logout(request.actor);
      clearRefreshCookie(reply);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/auth/sessions',
    { schema: { tags: ['auth'], summary: 'Signed-in devices', response: { 200: SessionListResponseSchema } } },
    async (request) => ({ sessions: await services.auth.listSessions(request.actor) }),
  );

  app.delete(
    '/auth/sessions/:id',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign out one device',
        params: IdParamsSchema,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await services.auth.revokeSession(request.actor, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change password; every other session is signed out',
        body: ChangePasswordRequestSchema,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await services.auth.changePassword(request.actor, request.body);
      return reply.status(204).send(null);
    },
  );
};
