import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Contact } from '@kkchat/protocol';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessEventBus } from '../../src/platform/events/event-bus.js';
import { createTestDatabase } from '../support/databases.js';
import { eventually, expectError, friends, RELAXED_LIMITS, sleep, type User } from '../support/helpers.js';
import { api, RawSocket } from '../support/raw-client.js';
import { startRedisServer, startTcpProxy, uniquePrefix, type OwnRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * A Redis outage degrades each use as documented (docs/architecture.md, Redis: Outage behaviour), logs once,
 * recovers when Redis returns, and loses or corrupts nothing. These tests run a redis-server of their own on a
 * free port and stop it (SIGKILL: data gone) or freeze it (SIGSTOP: data kept, commands time out) by PID.
 */
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

/** Log lines of a node, parsed. */
function capturingLogger(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function nodes(
  count: number,
  env: Record<string, string> = {},
  redisUrl?: (redis: OwnRedis, node: number) => Promise<string>,
): Promise<{ redis: OwnRedis; servers: TestServer[]; logs: Array<ReturnType<typeof capturingLogger>['lines']> }> {
  const redis = await startRedisServer();
  cleanup.push(() => redis.dispose());
  const database = await createTestDatabase('postgres');
  cleanup.push(() => database.drop());
  const bus = new InProcessEventBus();
  const shared = {
    ...RELAXED_LIMITS,
    KKCHAT_DATABASE_URL: database.url,
    KKCHAT_REDIS_URL: redis.url,
    KKCHAT_REDIS_PREFIX: uniquePrefix(),
    KKCHAT_PRESENCE_TTL_MS: '900',
    KKCHAT_JWT_SECRET: randomBytes(32).toString('hex'),
    ...env,
  };
  const servers: TestServer[] = [];
  const logs: Array<ReturnType<typeof capturingLogger>['lines']> = [];
  for (let i = 0; i < count; i++) {
    const { logger, lines } = capturingLogger();
    const url = redisUrl ? await redisUrl(redis, i) : redis.url;
    const server = await startTestServer({ env: { ...shared, KKCHAT_REDIS_URL: url }, bus, logger });
    cleanup.push(() => server.close());
    servers.push(server);
    logs.push(lines);
  }
  return { redis, servers, logs };
}

function send(node: TestServer, user: User, conversationId: string, text: string) {
  return api<{ message: { seq: number } }>(node.url, 'POST', `/conversations/${conversationId}/messages`, {
    token: user.accessToken,
    body: { clientMsgId: randomUUID(), kind: 'text', text },
  });
}

async function online(node: TestServer, viewer: User, userId: string): Promise<boolean | undefined> {
  const contacts = await api<{ contacts: Contact[] }>(node.url, 'GET', '/contacts', { token: viewer.accessToken });
  return contacts.body.contacts.find((c) => c.user.id === userId)?.presence.online;
}

const count = (lines: Array<{ msg: string }>, start: string) => lines.filter((l) => l.msg.startsWith(start)).length;

describe('a Redis outage', () => {
  it('keeps chat working, logs once, holds presence back, and recovers when Redis returns (data lost)', async () => {
    const { redis, servers, logs } = await nodes(1, { KKCHAT_SEND_MAX_PER_10S: '30' });
    const [node] = servers as [TestServer];
    const { a, b, conversationId } = await friends(node, 'ro');
    const watcher = await RawSocket.connect(node.wsUrl, a.accessToken);
    const device = await RawSocket.connect(node.wsUrl, b.accessToken);
    await watcher.next('presence', (f) => f.userId === b.user.id && f.online);
    expect((await send(node, a, conversationId, 'before')).status).toBe(201);

    await redis.stop();
    // Sign-in, REST, sends and new sockets keep working; sessions are checked on the database.
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const sent = await send(node, i % 2 ? a : b, conversationId, `during ${i}`);
      expect(sent.status).toBe(201);
      seqs.push(sent.body.message.seq);
    }
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
    const login = await api<{ accessToken: string }>(node.url, 'POST', '/auth/login', { body: { username: b.user.username, password: b.password } });
    expect(login.status).toBe(200);
    const second = await RawSocket.connect(node.wsUrl, login.body.accessToken);
    // b goes fully offline during the outage: friends are not told yet (another node might still hold b).
    device.close();
    second.close();
    await sleep(300);
    expect(watcher.frames.some((f) => f.type === 'presence' && f.userId === b.user.id && !f.online)).toBe(false);
    expect(count(logs[0]!, 'redis unavailable')).toBe(1);

    await redis.start();
    // Back: the held-back offline goes out, and a's presence is registered again in the (empty) new Redis.
    await watcher.next('presence', (f) => f.userId === b.user.id && !f.online, 10_000);
    await eventually(async () => (await online(node, b, a.user.id)) === true);
    expect(count(logs[0]!, 'redis recovered')).toBe(1);
    expect(count(logs[0]!, 'redis unavailable')).toBe(1);
    // Nothing was lost or duplicated: history is 1..11 with every message once.
    const history = await api<{ messages: Array<{ seq: number }> }>(node.url, 'GET', `/conversations/${conversationId}/messages?after=0&limit=50`, { token: a.accessToken });
    expect(history.body.messages.map((m) => m.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });

  it('rate limits still hold (per node) while Redis is down, and are shared again after', async () => {
    const { redis, servers } = await nodes(1, { KKCHAT_SEND_MAX_PER_10S: '3' });
    const [node] = servers as [TestServer];
    const { a, conversationId } = await friends(node, 'rr');
    await redis.stop();
    for (let i = 0; i < 3; i++) expect((await send(node, a, conversationId, `x${i}`)).status).toBe(201);
    expectError(await send(node, a, conversationId, 'over'), 429, 'RATE_LIMITED');
    await redis.start();
    await eventually(() => node.kkchat.platform.redis?.up === true);
    // Shared again: the new (empty) Redis bucket has the full budget, then refuses like before.
    for (let i = 0; i < 3; i++) expect((await send(node, a, conversationId, `y${i}`)).status).toBe(201);
    expectError(await send(node, a, conversationId, 'over again'), 429, 'RATE_LIMITED');
  });

  it('a logout while Redis is frozen is refused at once on both nodes, and stays refused after Redis returns with its old data', async () => {
    const { redis, servers } = await nodes(2);
    const [n1, n2] = servers as [TestServer, TestServer];
    const { a } = await friends(n1, 'rs');
    // Node 2 caches a's session as live; then Redis freezes with that entry in it.
    expect((await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken })).status).toBe(200);
    redis.pause();
    expect((await api(n1.url, 'POST', '/auth/logout', { token: a.accessToken })).status).toBe(204);
    expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    redis.resume();
    // The stale "live" entry is still in Redis until node 1 replays its tombstone; node 2 does not trust it.
    for (let i = 0; i < 10; i++) expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    await sleep(1000);
    expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    expectError(await api(n1.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
  });

  it('after an outage that Redis survives with its data, a node does not trust a session entry written before it (a revocation it missed)', async () => {
    const proxies: Array<Awaited<ReturnType<typeof startTcpProxy>>> = [];
    const { servers } = await nodes(2, {}, async (redis) => {
      const proxy = await startTcpProxy(redis.port);
      cleanup.push(() => proxy.close());
      proxies.push(proxy);
      return proxy.url;
    });
    const [n1, n2] = servers as [TestServer, TestServer];
    const [p1, p2] = proxies as [(typeof proxies)[0], (typeof proxies)[0]];
    const { a } = await friends(n1, 'rp');
    expect((await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken })).status).toBe(200); // "live" in Redis
    await Promise.all([p1.cut(), p2.cut()]);
    // Node 1 revokes while cut off: its tombstone waits in its memory. Node 2 notices the outage by its heartbeat.
    expect((await api(n1.url, 'POST', '/auth/logout', { token: a.accessToken })).status).toBe(204);
    await eventually(() => n2.kkchat.platform.redis?.up === false);
    // Node 2 comes back first; Redis still holds the "live" entry from before, and node 1 is still cut off.
    await p2.restore();
    await eventually(() => n2.kkchat.platform.redis?.up === true);
    expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    await p1.restore();
    await eventually(() => n1.kkchat.platform.redis?.up === true);
    expectError(await api(n1.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
  });

  it('a node does not start when its Redis cannot be reached, and says which', async () => {
    const redis = await startRedisServer();
    const url = redis.url;
    await redis.dispose();
    await expect(startTestServer({ env: { KKCHAT_REDIS_URL: url } })).rejects.toThrow(new RegExp(`Redis at ${url.replace(/\//g, '\\/')} is unreachable`));
  });
});
