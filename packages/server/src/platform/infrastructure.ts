import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { LocalInvalidationChannel, type InvalidationChannel } from './cache/invalidation.js';
import { RedisInvalidationChannel } from './cache/redis-invalidation.js';
import { RedisSharedCache } from './cache/redis-shared-cache.js';
import { MemorySharedCache, type SharedCache } from './cache/shared-cache.js';
import { MemoryPresenceStore, type PresenceStore } from './presence/presence-store.js';
import { RedisPresenceStore } from './presence/redis-presence-store.js';
import { MemoryRateLimiter, type RateLimiter } from './ratelimit/rate-limiter.js';
import { RedisRateLimiter } from './ratelimit/redis-rate-limiter.js';
import { RedisConnection } from './redis/connection.js';
import { NodeRegistry } from './redis/node-registry.js';

/** The adapters chosen by configuration: the embedded ones, or Redis's when KKCHAT_REDIS_URL is set. */
export interface Infrastructure {
  presence: PresenceStore;
  limiter: RateLimiter;
  sessions: SharedCache;
  invalidation: InvalidationChannel;
  /** Null in embedded mode. */
  redis: RedisConnection | null;
  /** This process's node id in the registry (null in embedded mode). */
  nodeId(): string | null;
  /** Starts heartbeats and the sweeper (after the app is built, so the sweep's events have a listener). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface InfrastructureOptions {
  log: Logger;
  now: () => number;
  onRedisState?: (up: boolean) => void;
  onRedisError?: () => void;
}

export async function openInfrastructure(config: Config, options: InfrastructureOptions): Promise<Infrastructure> {
  const { log, now } = options;
  if (!config.redis.url) {
    const limiter = new MemoryRateLimiter(now);
    const sessions = new MemorySharedCache(now);
    return {
      presence: new MemoryPresenceStore(),
      limiter,
      sessions,
      invalidation: new LocalInvalidationChannel(),
      redis: null,
      nodeId: () => null,
      start: async () => undefined,
      close: async () => {
        limiter.close();
        sessions.close();
      },
    };
  }
  const redis = await RedisConnection.open({
    url: config.redis.url,
    prefix: config.redis.prefix,
    log,
    ...(options.onRedisState ? { onState: options.onRedisState } : {}),
    ...(options.onRedisError ? { onCommandError: options.onRedisError } : {}),
  });
  try {
    const nodes = new NodeRegistry(redis, config.redis.presenceTtlMs, now);
    const presence = new RedisPresenceStore(redis, nodes, log, now);
    const limiter = new RedisRateLimiter(redis, nodes, now);
    const invalidation = await RedisInvalidationChannel.open(redis, log);
    return {
      presence,
      limiter,
      sessions: new RedisSharedCache(redis, log, now),
      invalidation,
      redis,
      nodeId: () => nodes.id,
      start: () => nodes.start(),
      async close() {
        await presence.close();
        limiter.close();
        await invalidation.close();
        await redis.close();
      },
    };
  } catch (error) {
    await redis.close();
    throw error;
  }
}
