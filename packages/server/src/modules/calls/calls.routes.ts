import { createHmac } from 'node:crypto';
import { IceServersResponseSchema, type IceServersResponse } from '@kkchat/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.js';
import type { Services } from '../../context.js';

/**
 * TURN credentials in the scheme of coturn's REST API (`use-auth-secret`): the username is
 * `<expiry unix seconds>:<user id>` and the password is base64(HMAC-SHA1(shared secret, username)). The TURN
 * server checks the signature and the expiry itself; KKChat stores nothing.
 */
export function turnCredentials(secret: string, userId: string, nowMs: number, ttlSec: number): { username: string; credential: string } {
  const expiry = Math.floor(nowMs / 1000) + ttlSec;
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

export function iceServersFor(config: Config['calls'], userId: string, nowMs: number): IceServersResponse {
  const iceServers: IceServersResponse['iceServers'] = [];
  if (config.stunUrls.length > 0) iceServers.push({ urls: config.stunUrls });
  const withTurn = config.turnUrls.length > 0 && config.turnSecret !== null;
  if (withTurn) iceServers.push({ urls: config.turnUrls, ...turnCredentials(config.turnSecret!, userId, nowMs, config.turnTtlSec) });
  return { iceServers, ttlSec: withTurn ? config.turnTtlSec : 0 };
}

export const callRoutes: FastifyPluginAsyncZod<{ services: Services; config: Config; now: () => number }> = async (app, { config, now }) => {
  app.get(
    '/calls/ice-servers',
    {
      schema: {
        tags: ['calls'],
        summary: 'STUN/TURN servers for calls, with short-lived TURN credentials',
        response: { 200: IceServersResponseSchema },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return iceServersFor(config.calls, request.actor.userId, now());
    },
  );
};
