import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalInvalidationChannel, LocalInvalidationHub, type InvalidationChannel } from '../../src/platform/cache/invalidation.js';
import { RedisInvalidationChannel } from '../../src/platform/cache/redis-invalidation.js';
import { RedisSharedCache } from '../../src/platform/cache/redis-shared-cache.js';
import { MemorySharedCache, type SharedCache } from '../../src/platform/cache/shared-cache.js';
import { MemoryPresenceStore, type PresenceStore } from '../../src/platform/presence/presence-store.js';
import { RedisPresenceStore } from '../../src/platform/presence/redis-presence-store.js';
import { MemoryRateLimiter, type RateLimiter } from '../../src/platform/ratelimit/rate-limiter.js';
import { RedisRateLimiter } from '../../src/platform/ratelimit/redis-rate-limiter.js';
import { NodeRegistry } from '../../src/platform/redis/node-registry.js';
import { eventually, sleep } from '../support/helpers.js';
import { checkMachineRedis, deletePrefix, openConnection, uniquePrefix } from '../support/redis.js';

/**
 * One contract per platform interface that has a Redis adapter, run against the embedded adapter and the Redis
 * one (the machine's Redis, under a prefix of its own). "Two nodes" are two sets of adapters on the same backend:
 * for the embedded adapters that is the same process, hence the same instances.
 */
interface Node {
  presence: PresenceStore;
  limiter: RateLimiter;
  cache: SharedCache;
  invalidation: InvalidationChannel;
}

interface Backend {
  name: string;
  node(now: () => number): Promise<Node>;
  cleanup(): Promise<void>;
}

const silent = pino({ level: 'silent' });

function memoryBackend(): Backend {
  let shared: (Node & { close(): void }) | null = null;
  const hub = new LocalInvalidationHub();
  return {
    name: 'memory',
    async node(now) {
      // One process: every "node" is the same presence, limiter and cache; channels share a hub.
      shared ??= (() => {
        const limiter = new MemoryRateLimiter(now);
        const cache = new MemorySharedCache(now);
        return { presence: new MemoryPresenceStore(), limiter, cache, invalidation: new LocalInvalidationChannel(hub), close: () => (limiter.close(), cache.close()) };
      })();
      return { ...shared, invalidation: new LocalInvalidationChannel(hub) };
    },
    async cleanup() {
      shared?.close();
    },
  };
}

function redisBackend(): Backend {
  const prefix = uniquePrefix();
  const closers: Array<() => Promise<void>> = [];
  return {
    name: 'redis',
    async node(now) {
      const redis = await openConnection(prefix);
      const nodes = new NodeRegistry(redis, 5000);
      const presence = new RedisPresenceStore(redis, nodes, silent);
      const limiter = new RedisRateLimiter(redis, nodes, now);
      const invalidation = await RedisInvalidationChannel.open(redis, silent);
      await nodes.start();
      closers.push(async () => {
        await presence.close();
        limiter.close();
        await invalidation.close();
        await redis.close();
      });
      return { presence, limiter, cache: new RedisSharedCache(redis, silent, now), invalidation };
    },
    async cleanup() {
      for (const close of closers) await close();
      await deletePrefix(prefix);
    },
  };
}

beforeAll(() => checkMachineRedis());

describe.each([{ make: memoryBackend }, { make: redisBackend }])('platform contract', ({ make }) => {
  let backend: Backend;
  let now = 1_000_000;
  const clock = () => now;
  let a: Node;
  let b: Node;
  beforeAll(async () => {
    backend = make();
    a = await backend.node(clock);
    b = await backend.node(clock);
  });
  afterAll(() => backend.cleanup());

  describe(`${make().name}: presence`, () => {
    it('reports a transition only for the first connection and the last disconnection, across nodes', async () => {
      expect(await a.presence.connect('p1', 'c1')).toEqual({ becameOnline: true });
      expect(await a.presence.connect('p1', 'c2')).toEqual({ becameOnline: false });
      expect(await b.presence.connect('p1', 'c3')).toEqual({ becameOnline: false });
      expect(await b.presence.online(['p1', 'p2'])).toEqual(new Set(['p1']));
      expect(await a.presence.disconnect('p1', 'c1')).toEqual({ becameOffline: false });
      expect(await a.presence.disconnect('p1', 'c2')).toEqual({ becameOffline: false });
      expect(await a.presence.online(['p1'])).toEqual(new Set(['p1']));
      expect(await b.presence.disconnect('p1', 'c3')).toEqual({ becameOffline: true });
      expect(await a.presence.online(['p1'])).toEqual(new Set());
    });

    it('ignores unknown and repeated connects and disconnects', async () => {
      expect(await a.presence.disconnect('p3', 'c1')).toEqual({ becameOffline: false });
      expect(await a.presence.connect('p3', 'c1')).toEqual({ becameOnline: true });
      expect(await a.presence.connect('p3', 'c1')).toEqual({ becameOnline: false });
      expect(await a.presence.disconnect('p3', 'c1')).toEqual({ becameOffline: true });
      expect(await a.presence.disconnect('p3', 'c1')).toEqual({ becameOffline: false });
      expect(await a.presence.online(['p3'])).toEqual(new Set());
    });
  });

  describe(`${make().name}: rate limits`, () => {
    const limit = { limit: 3, windowMs: 3000 };

    it('allows up to the limit on all nodes together, then refuses with the time until one unit is back', async () => {
      expect(await a.limiter.consume('k1', limit)).toEqual({ allowed: true, retryAfterMs: 0 });
      expect(await b.limiter.consume('k1', limit)).toEqual({ allowed: true, retryAfterMs: 0 });
      expect(await a.limiter.consume('k1', limit)).toEqual({ allowed: true, retryAfterMs: 0 });
      expect(await b.limiter.consume('k1', limit)).toEqual({ allowed: false, retryAfterMs: 1000 });
      now += 400;
      expect(await a.limiter.consume('k1', limit)).toEqual({ allowed: false, retryAfterMs: 600 });
    });

    it('refills continuously, never above the limit; a refused request costs nothing', async () => {
      for (let i = 0; i < 3; i++) await a.limiter.consume('k2', limit);
      for (let i = 0; i < 10; i++) expect((await b.limiter.consume('k2', limit)).allowed).toBe(false);
      now += 1000;
      expect((await b.limiter.consume('k2', limit)).allowed).toBe(true);
      expect((await a.limiter.consume('k2', limit)).allowed).toBe(false);
      now += 60_000;
      for (let i = 0; i < 3; i++) expect((await a.limiter.consume('k2', limit)).allowed).toBe(true);
      expect((await b.limiter.consume('k2', limit)).allowed).toBe(false);
    });

    it('keeps keys apart; peek does not consume; reset forgets; costs above one', async () => {
      for (let i = 0; i < 5; i++) expect((await a.limiter.peek('k3', limit)).allowed).toBe(true);
      for (let i = 0; i < 3; i++) await a.limiter.consume('k3', limit);
      expect(await b.limiter.peek('k3', limit)).toEqual({ allowed: false, retryAfterMs: 1000 });
      expect((await a.limiter.consume('k4', limit)).allowed).toBe(true);
      await b.limiter.reset('k3');
      expect((await a.limiter.consume('k3', limit, 2)).allowed).toBe(true);
      expect(await a.limiter.consume('k3', limit, 2)).toEqual({ allowed: false, retryAfterMs: 1000 });
      expect((await b.limiter.consume('k3', limit, 1)).allowed).toBe(true);
    });

    it('counts concurrent slots over all nodes and gives them back once', async () => {
      const first = await a.limiter.acquireSlot('slot:x', 2);
      const second = await b.limiter.acquireSlot('slot:x', 2);
      expect(first).not.toBeNull();
      expect(second).not.toBeNull();
      expect(await a.limiter.acquireSlot('slot:x', 2)).toBeNull();
      expect(await b.limiter.acquireSlot('slot:x', 2)).toBeNull();
      expect(await a.limiter.acquireSlot('slot:y', 2)).not.toBeNull();
      first!();
      first!(); // a second call gives back nothing more
      await eventually(async () => {
        const third = await b.limiter.acquireSlot('slot:x', 2);
        if (!third) return false;
        expect(await a.limiter.acquireSlot('slot:x', 2)).toBeNull();
        third();
        return true;
      });
      second!();
    });
  });

  describe(`${make().name}: shared cache`, () => {
    it('a value written on one node is read on the other; set overwrites', async () => {
      expect(await b.cache.get('c:1')).toBeNull();
      await a.cache.set('c:1', 'one', 60_000);
      expect(await b.cache.get('c:1')).toBe('one');
      await b.cache.set('c:1', 'two', 60_000);
      expect(await a.cache.get('c:1')).toBe('two');
    });

    it('setUnless never overwrites the guard value, and writes otherwise', async () => {
      await a.cache.setUnless('c:2', 'live', 60_000, 'revoked');
      expect(await b.cache.get('c:2')).toBe('live');
      await b.cache.set('c:2', 'revoked', 60_000);
      await a.cache.setUnless('c:2', 'live again', 60_000, 'revoked');
      expect(await a.cache.get('c:2')).toBe('revoked');
    });

    it('entries expire after their TTL', async () => {
      await a.cache.set('c:3', 'short', 40);
      expect(await b.cache.get('c:3')).toBe('short');
      now += 100; // the memory adapter's clock
      await sleep(100); // Redis's
      expect(await b.cache.get('c:3')).toBeNull();
    });
  });

  describe(`${make().name}: invalidation`, () => {
    it('an invalidation published by one node reaches the other, not itself', async () => {
      const seenByA: string[] = [];
      const seenByB: string[] = [];
      a.invalidation.subscribe((scope, id) => seenByA.push(`${scope}/${id}`));
      b.invalidation.subscribe((scope, id) => seenByB.push(`${scope}/${id}`));
      expect(a.invalidation.reliable).toBe(true);
      await a.invalidation.publish('group', 'g1');
      await b.invalidation.publish('direct', 'd1');
      await eventually(() => seenByB.includes('group/g1') && seenByA.includes('direct/d1'));
      expect(seenByA).not.toContain('group/g1');
      expect(seenByB).not.toContain('direct/d1');
    });
  });
});
