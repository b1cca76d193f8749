import { randomBytes } from 'node:crypto';
import type { Contact } from '@kkchat/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { eventually, friends, RELAXED_LIMITS } from '../support/helpers.js';
import { api, RawSocket } from '../support/raw-client.js';
import { checkMachineRedis, deletePrefix, MACHINE_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { startKafkaCluster } from '../support/kafka-cluster.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * BR-34 across nodes: node 2 is a real process killed with SIGKILL (no cleanup runs); node 1's sweeper notices
 * its heartbeat is gone and takes its users offline, telling their friends. The presence TTL is shortened so the
 * test runs in seconds; the default (30 s) gives the same within 40 s.
 */
const TTL_MS = 800;

let cleanup: Array<() => Promise<void>> = [];
beforeAll(() => checkMachineRedis());
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

/** Set by the Kafka variant: the nodes then talk through a real broker instead of each keeping its own bus. */
let broker: TestKafka | null = null;

async function twoNodes(): Promise<{ node1: TestServer; node2: ServerProcess; database: TestDatabase }> {
  if (broker) {
    const cluster = await startKafkaCluster({ kafka: broker });
    cleanup.push(() => cluster.close());
    const ttl = { KKCHAT_PRESENCE_TTL_MS: String(TTL_MS) };
    return { node1: await cluster.node('n1', ttl), node2: await cluster.processNode('n2', ttl), database: cluster.database };
  }
  const database = await createTestDatabase('postgres');
  const prefix = uniquePrefix();
  cleanup.push(() => database.drop(), () => deletePrefix(prefix));
  const env = {
    ...RELAXED_LIMITS,
    KKCHAT_DATABASE_URL: database.url,
    KKCHAT_REDIS_URL: MACHINE_REDIS_URL,
    KKCHAT_REDIS_PREFIX: prefix,
    KKCHAT_PRESENCE_TTL_MS: String(TTL_MS),
    KKCHAT_JWT_SECRET: randomBytes(32).toString('hex'),
  };
  const node1 = await startTestServer({ env });
  cleanup.push(() => node1.close());
  const node2 = await startServerProcess({ env });
  cleanup.push(() => node2.stop());
  return { node1, node2, database };
}

const wsUrl = (baseUrl: string) => `${baseUrl.replace('http', 'ws')}/ws`;

async function presenceOf(node: TestServer, token: string, userId: string): Promise<Contact['presence'] | undefined> {
  const contacts = await api<{ contacts: Contact[] }>(node.url, 'GET', '/contacts', { token });
  return contacts.body.contacts.find((c) => c.user.id === userId)?.presence;
}

describe.each(['own', 'kafka'] as const)('presence across nodes (bus: %s)', (kind) => {
  beforeAll(async () => {
    if (kind === 'kafka') broker = await startKafka();
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
    broker = null;
  });

  describe('a node that dies', () => {
    it('a node killed with SIGKILL takes its users offline within the timeout, and friends on other nodes are told', async () => {
      const { node1, node2 } = await twoNodes();
      const { a, b } = await friends(node1, 'pk');
      const watcher = await RawSocket.connect(node1.wsUrl, a.accessToken);
      const device = await RawSocket.connect(wsUrl(node2.url), b.accessToken);
      // Node 1 sees b online although b's socket is on node 2.
      await eventually(async () => (await presenceOf(node1, a.accessToken, b.user.id))?.online === true);

      const killedAt = Date.now();
      await node2.kill('SIGKILL');
      await device.waitClosed();
      const offline = await watcher.next('presence', (f) => f.userId === b.user.id && !f.online, 4 * TTL_MS + 5000);
      const tookMs = Date.now() - killedAt;
      // Within TTL + a sweep interval (plus the machine's scheduling), not only eventually.
      expect(tookMs).toBeLessThan(2 * TTL_MS + 3000);
      expect(offline.lastSeenAt).not.toBeNull();
      expect(offline.lastSeenAt!).toBeLessThanOrEqual(killedAt + 50);
      expect(await presenceOf(node1, a.accessToken, b.user.id)).toEqual({ online: false, lastSeenAt: offline.lastSeenAt });
    });

    it('a restarted node does not bring back who was online before its crash; new connections count again', async () => {
      const { node1, node2 } = await twoNodes();
      const { a, b } = await friends(node1, 'pr');
      await RawSocket.connect(wsUrl(node2.url), b.accessToken);
      await eventually(async () => (await presenceOf(node1, a.accessToken, b.user.id))?.online === true);
      await node2.kill('SIGKILL');
      await node2.restart();
      // The restarted process is a new node (a new epoch): the old one's entry is swept, not taken over.
      await eventually(async () => (await presenceOf(node1, a.accessToken, b.user.id))?.online === false, 4 * TTL_MS + 5000);
      const again = await RawSocket.connect(wsUrl(node2.url), b.accessToken);
      await eventually(async () => (await presenceOf(node1, a.accessToken, b.user.id))?.online === true);
      again.close();
      await eventually(async () => (await presenceOf(node1, a.accessToken, b.user.id))?.online === false);
    });

    it('a user with devices on two nodes stays online while either node holds one, with no flicker for friends', async () => {
      const { node1, node2 } = await twoNodes();
      const { a, b } = await friends(node1, 'pf');
      const watcher = await RawSocket.connect(node1.wsUrl, a.accessToken);
      const phone = await RawSocket.connect(node1.wsUrl, b.accessToken);
      await RawSocket.connect(wsUrl(node2.url), b.accessToken);
      await watcher.next('presence', (f) => f.userId === b.user.id && f.online);
      await node2.kill('SIGKILL');
      // Two sweep periods later b is still online (the phone on node 1), and no offline event went out.
      await new Promise((resolve) => setTimeout(resolve, 3 * TTL_MS));
      expect((await presenceOf(node1, a.accessToken, b.user.id))?.online).toBe(true);
      expect(watcher.frames.some((f) => f.type === 'presence' && f.userId === b.user.id && !f.online)).toBe(false);
      phone.close();
      await watcher.next('presence', (f) => f.userId === b.user.id && !f.online);
    });
  });
});
