import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Platform } from '../context.js';
import { AppError } from '../errors.js';
import { acceptRequestId, logContext } from '../platform/log-context.js';

/** Each readiness check gives up after this long: a hung dependency is a failed one. */
const CHECK_TIMEOUT_MS = 2000;

export interface OperationsState {
  /** Set once shutdown has begun: /readyz answers 503 "draining". */
  draining: boolean;
}

/** Fastify's request id: the proxy's X-Request-Id when it is plain, else a new UUID. */
export function requestIdOf(request: { headers: Record<string, string | string[] | undefined> }): string {
  return acceptRequestId(request.headers['x-request-id']) ?? randomUUID();
}

/**
 * Request ids in logs and responses, the request counter, and the operational routes: /readyz (dependencies
 * reachable) and /metrics (Prometheus, loopback or token only). /healthz stays in app.ts (liveness).
 */
export function installOperations(app: FastifyInstance, platform: Platform, state: OperationsState): void {
  const { metrics } = platform;
  // Everything the request causes (service logs included) runs inside its log context.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    logContext.run({ reqId: String(request.id) }, done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    done();
  });

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    if (state.draining) return reply.status(503).send({ status: 'draining', checks: {} });
    const checks: Record<string, Promise<void>> = {
      database: sql`SELECT 1`.execute(platform.db).then(() => undefined),
    };
    if (platform.redis) {
      const redis = platform.redis;
      checks.redis = redis.run((c) => c.ping()).then(() => undefined);
    }
    if (platform.bus.checkHealth) checks.bus = platform.bus.checkHealth();
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await settle(check)] as const),
    );
    const ok = results.every(([, result]) => result === 'ok');
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks: Object.fromEntries(results) });
  });

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!mayReadMetrics(request, platform.config.metricsToken)) return reply.status(404).send(new AppError('ROUTE_NOT_FOUND').toBody());
    return reply.type(metrics.contentType).send(await metrics.render());
  });
}

async function settle(check: Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check, timeout]);
    return 'ok';
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * With KKCHAT_METRICS_TOKEN set, the bearer token decides. Without it, only a client on this machine that came
 * directly: a proxy on loopback (nginx) forwards outside clients with X-Forwarded-For, which is refused.
 */
function mayReadMetrics(request: FastifyRequest, token: string | null): boolean {
  if (token) {
    const given = Buffer.from(request.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
  const peer = request.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  return loopback && request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined;
}
