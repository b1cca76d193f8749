import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, Services } from '../../context.js';
import { AppError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by the authentication hook on every protected route. */
    actor: Actor;
  }
}

/** Reads `Authorization: Bearer <access token>`; the token never travels in a URL. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? null;
}

/** Adds the hook that authenticates every route registered in `app`'s scope. */
export function requireAuthentication(app: FastifyInstance, services: Services): void {
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request);
    if (!token) throw new AppError('UNAUTHENTICATED');
    request.actor = await services.auth.authenticate(token);
    await services.auth.checkApiRate(request.actor);
  });
}
