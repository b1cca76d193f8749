import { randomUUID } from 'node:crypto';
import { CLOSE_CODES } from '@kkchat/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type ClusterBus, type TestCluster } from '../support/cluster.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { buildGroup } from '../support/groups.js';
import { eventually, expectError, friends, type User } from '../support/helpers.js';
import { api, RawSocket } from '../support/raw-client.js';
import { checkMachineRedis, MACHINE_REDIS_URL } from '../support/redis.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Two nodes sharing the database and Redis, on one in-process event bus and then on a real Kafka broker: what
 * one node changes, the other enforces at once.
 */
let cluster: TestCluster | null = null;
let bus: ClusterBus = { kind: 'in-process' };
beforeAll(() => checkMachineRedis());
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function two(options: Parameters<typeof startCluster>[1] = {}): Promise<[TestServer, TestServer]> {
  cluster = await startCluster(2, { bus, ...options });
  return [cluster.nodes[0]!, cluster.nodes[1]!];
}

function send(node: TestServer, user: User, conversationId: string, text: string) {
  return api<{ message: { seq: number } }>(node.url, 'POST', `/conversations/${conversationId}/messages`, {
    token: user.accessToken,
    body: { clientMsgId: randomUUID(), kind: 'text', text },
  });
}

describe.each(['in-process', 'kafka'] as const)('on the %s bus', (kind) => {
  let broker: TestKafka | null = null;
  beforeAll(async () => {
    if (kind === 'kafka') broker = await startKafka();
    bus = broker ? { kind: 'kafka', broker } : { kind: 'in-process' };
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
    bus = { kind: 'in-process' };
  });

  describe('sessions across nodes', () => {
    it('a logout on node 1 refuses the token on node 2 at once and closes its socket there', async () => {
      const [n1, n2] = await two();
      const { a } = await friends(n1, 'rv');
      const socket = await RawSocket.connect(n2.wsUrl, a.accessToken);
      expect((await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken })).status).toBe(200); // node 2 has it cached as live
      expect((await api(n1.url, 'POST', '/auth/logout', { token: a.accessToken })).status).toBe(204);
      expectError(await api(n2.url, 'GET', '/auth/sessions', { token: a.accessToken }), 401, 'SESSION_REVOKED');
      expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.SESSION_REVOKED);
      // A new socket with the old token is refused on either node.
      const again = await RawSocket.open(n2.wsUrl);
      again.send({ type: 'auth', token: a.accessToken });
      expect((await again.waitClosed()).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    });

    it('revoking another device from node 2 ends it on node 1; the revoking device carries on', async () => {
      const [n1, n2] = await two();
      const { a } = await friends(n1, 'rd');
      const login = await api<{ accessToken: string; sessionId: string }>(n2.url, 'POST', '/auth/login', {
        body: { username: a.user.username, password: a.password },
      });
      expect((await api(n1.url, 'GET', '/auth/sessions', { token: login.body.accessToken })).status).toBe(200);
      expect((await api(n2.url, 'DELETE', `/auth/sessions/${login.body.sessionId}`, { token: a.accessToken })).status).toBe(204);
      expectError(await api(n1.url, 'GET', '/auth/sessions', { token: login.body.accessToken }), 401, 'SESSION_REVOKED');
      expect((await api(n1.url, 'GET', '/auth/sessions', { token: a.accessToken })).status).toBe(200);
    });
  });

  describe('cached membership across nodes', () => {
    for (const prefixes of ['shared', 'separate'] as const) {
      const how = prefixes === 'shared' ? 'with invalidation' : 'even when no invalidation reaches node 2';
      it(`a member removed on node 1 cannot post via node 2, nor receive what is posted there (${how})`, async () => {
        const [n1, n2] = await two({ prefixes });
        const group = await buildGroup(n1, { members: 1, prefix: `cm${prefixes[0]}` });
        const removed = group.members[0]!;
        const watcher = await RawSocket.connect(n2.wsUrl, removed.accessToken);
        const colleague = await RawSocket.connect(n2.wsUrl, group.owner.accessToken);
        // Node 2 caches the group while everyone is in.
        expect((await send(n2, removed, group.conversationId, 'before')).status).toBe(201);
        expect((await send(n2, group.admin, group.conversationId, 'hello')).status).toBe(201);

        expect((await api(n1.url, 'DELETE', `/groups/${group.conversationId}/members/${removed.user.id}`, { token: group.owner.accessToken })).status).toBe(200);
        expectError(await send(n2, removed, group.conversationId, 'still here'), 403, 'NOT_MEMBER');
        const after = await send(n2, group.admin, group.conversationId, 'after removal');
        expect(after.status).toBe(201);
        // The removal's system message is the last thing the removed member gets; the later message never arrives.
        await watcher.next('message', (f) => f.message.kind === 'system');
        const marker = await send(n1, group.owner, group.conversationId, 'marker');
        expect(marker.status).toBe(201);
        // Node 2 delivers one conversation's events in order: once the owner's socket there has the marker, node 2
        // has handled "after removal" too, and the removed member's socket did not get it.
        await colleague.next('message', (f) => f.message.seq === marker.body.message.seq, 10_000);
        expect(watcher.frames.filter((f) => f.type === 'message').map((f) => (f as { message: { seq: number } }).message.seq)).not.toContain(after.body.message.seq);
        // No seq was used by the refused send: seqs stay contiguous.
        expect(marker.body.message.seq).toBe(after.body.message.seq + 1);
      });

      it(`a block made on node 1 stops messages sent via node 2 at once (${how})`, async () => {
        const [n1, n2] = await two({ prefixes });
        const { a, b, conversationId } = await friends(n1, `bk${prefixes[0]}`);
        expect((await send(n2, b, conversationId, 'hi')).status).toBe(201); // node 2 caches the pair as friends
        expect((await api(n1.url, 'PUT', `/blocks/${b.user.id}`, { token: a.accessToken })).status).toBe(204);
        expectError(await send(n2, b, conversationId, 'after the block'), 403, 'BLOCKED_BY_USER');
        expect((await api(n1.url, 'DELETE', `/blocks/${b.user.id}`, { token: a.accessToken })).status).toBe(204);
        if (prefixes === 'shared') {
          expect((await send(n2, b, conversationId, 'after the unblock')).status).toBe(201);
        } else {
          // Without the invalidation, node 2's entry says "blocked" until a refusal on it is confirmed by a
          // reload, which an entry under a second old does not get: within a second the send goes through.
          const started = Date.now();
          await eventually(async () => (await send(n2, b, conversationId, 'after the unblock')).status === 201, 3000, 100);
          expect(Date.now() - started).toBeLessThan(2500);
        }
      });
    }
  });

  describe('nothing is left in Redis by connection churn (BR-41)', () => {
    it('after connects and disconnects on both nodes, half of them abrupt, no presence or socket entry remains', async () => {
      const [n1, n2] = await two();
      const { a, b } = await friends(n1, 'ch');
      for (let round = 0; round < 5; round++) {
        const sockets = await Promise.all([n1, n2, n1, n2].map((node, i) => RawSocket.connect(node.wsUrl, (i % 2 ? b : a).accessToken)));
        sockets.forEach((socket, i) => (i % 2 ? socket.ws.terminate() : socket.close()));
        await Promise.all(sockets.map((socket) => socket.waitClosed()));
      }
      const { createClient } = await import('redis');
      const client = createClient({ url: MACHINE_REDIS_URL });
      await client.connect();
      try {
        await eventually(async () => {
          const left: string[] = [];
          for await (const keys of client.scanIterator({ MATCH: `${cluster!.prefix}*`, COUNT: 500 })) left.push(...keys);
          const counting = left.filter((key) => /:(presence|presence-index|slots):/.test(key.slice(cluster!.prefix.length - 1)));
          expect(counting).toEqual([]);
          return true;
        });
      } finally {
        await client.close();
      }
      for (const node of [n1, n2]) expect(node.kkchat.gateway.stats()).toEqual({ connections: 0, users: 0, sessions: 0, addresses: 0 });
    });
  });

  describe('rate limits across nodes', () => {
    it('sends per user are counted once for all nodes', async () => {
      const [n1, n2] = await two({ env: { KKCHAT_SEND_MAX_PER_10S: '4' } });
      const { a, conversationId } = await friends(n1, 'rl');
      for (const node of [n1, n2, n1, n2]) expect((await send(node, a, conversationId, 'x')).status).toBe(201);
      expectError(await send(n1, a, conversationId, 'x'), 429, 'RATE_LIMITED');
      expectError(await send(n2, a, conversationId, 'x'), 429, 'RATE_LIMITED');
    });

    it('sign-in attempts per account are counted once for all nodes', async () => {
      const [n1, n2] = await two({ env: { KKCHAT_LOGIN_MAX_PER_ACCOUNT: '3' } });
      const { a } = await friends(n1, 'lg');
      const attempt = (node: TestServer) => api(node.url, 'POST', '/auth/login', { body: { username: a.user.username, password: 'not the password' } });
      for (const node of [n1, n2, n1]) expectError(await attempt(node), 401, 'INVALID_CREDENTIALS');
      expectError(await attempt(n2), 429, 'LOGIN_THROTTLED');
      expectError(await attempt(n1), 429, 'LOGIN_THROTTLED');
    });

    it('sockets per address are counted over both nodes', async () => {
      const [n1, n2] = await two({ env: { KKCHAT_WS_MAX_PER_IP: '2' } });
      const first = await RawSocket.open(n1.wsUrl);
      const second = await RawSocket.open(n2.wsUrl);
      await expect(RawSocket.open(n1.wsUrl)).rejects.toThrow(/429/);
      await expect(RawSocket.open(n2.wsUrl)).rejects.toThrow(/429/);
      first.close();
      await first.waitClosed();
      await eventually(async () => {
        const third = await RawSocket.open(n2.wsUrl);
        third.close();
        return true;
      });
      second.close();
    });
  });
});
