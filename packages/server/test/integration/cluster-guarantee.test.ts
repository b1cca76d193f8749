import type { KKChatClient } from '@kkchat/client';
import type { AuthResult, Message, ServerFrame } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaCluster, sdkClient, shown, signUp, until, type TestCluster } from '../support/kafka-cluster.js';
import { api, befriend, nextRid, RawSocket } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The delivery guarantee in cluster mode (design notes §3, issue 5, BR-39): two nodes on PostgreSQL and a real
 * Kafka broker; an acknowledged message reaches every member device exactly once as the client shows it, in seq
 * order, while outbox relays join, stop and are killed (their shards move), while a gateway restarts, and while
 * the broker restarts. A raw socket that stays connected checks the servers themselves: every message pushed to
 * it exactly once, in order, with no help from the SDK's dedupe or gap pulls.
 */
let cluster: TestCluster;
let n1: TestServer;
let n2: TestServer;
const clients: KKChatClient[] = [];
const sockets: RawSocket[] = [];

beforeAll(async () => {
  cluster = await startKafkaCluster();
  n1 = await cluster.node('n1');
  n2 = await cluster.node('n2');
}, 180_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  for (const socket of sockets) socket.close();
  await cluster?.close();
}, 120_000);

interface Scenario {
  alice: AuthResult;
  /** Alice–Bob, Alice–Carol: one-to-one conversations. */
  conversations: string[];
  bob: KKChatClient;
  carol: KKChatClient;
  bobShows: ReturnType<typeof shown>;
  carolShows: ReturnType<typeof shown>;
  /** Bob's second device, a raw socket on n1 that never reconnects. */
  bobRaw: RawSocket;
}

/** Alice sends; Bob has the SDK on n2 and a raw socket on n1; Carol has the SDK on `carolUrl`. */
async function scenario(carolUrl = n1.url): Promise<Scenario> {
  const bob = sdkClient(n2.url);
  const carol = sdkClient(carolUrl);
  clients.push(bob, carol);
  const alice = (await api<AuthResult>(n1.url, 'POST', '/auth/register', { body: { username: `al${Date.now().toString(36)}${clients.length}`, password: 'alice-password-1' } })).body;
  const bobAuth = await signUp(bob, 'bob');
  const carolAuth = await signUp(carol, 'carol');
  const conversations = [await befriend(n1.url, alice, bobAuth), await befriend(n2.url, alice, carolAuth)];
  await bob.connect();
  await carol.connect();
  bob.trackConversation(conversations[0]!, 0);
  carol.trackConversation(conversations[1]!, 0);
  const bobRaw = await RawSocket.connect(n1.url.replace('http', 'ws') + '/ws', bob.accessToken!);
  sockets.push(bobRaw);
  return { alice, conversations, bob, carol, bobShows: shown(bob, [conversations[0]!]), carolShows: shown(carol, [conversations[1]!]), bobRaw };
}

/**
 * Alice sends to both conversations, alternating nodes (REST: any node's API), until `during` has finished;
 * returns the acknowledged messages. A node that is down at that moment is skipped, like a load balancer would.
 */
async function sendWhile(s: Scenario, urls: () => string[], during: () => Promise<void>): Promise<Message[]> {
  const acked: Message[] = [];
  let done = false;
  const work = during().finally(() => (done = true));
  for (let i = 0; !done || i < 40; i++) {
    const conversationId = s.conversations[i % 2]!;
    const clientMsgId = nextRid('c');
    for (let attempt = 0; ; attempt++) {
      const url = urls()[(i + attempt) % urls().length]!;
      const sent = await api<{ message: Message }>(url, 'POST', `/conversations/${conversationId}/messages`, {
        token: s.alice.accessToken,
        body: { clientMsgId, kind: 'text', text: `m${i}` },
      }).catch(() => null);
      if (sent && (sent.status === 201 || sent.status === 200)) {
        acked.push(sent.body.message);
        break;
      }
      if (attempt > 50) throw new Error(`send ${i} failed: ${sent?.status} ${JSON.stringify(sent?.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  await work;
  return acked;
}

/** Every acknowledged message: in the history once, shown once in order by each SDK, pushed once in order to the raw socket. */
async function expectExactlyOnce(s: Scenario, acked: Message[]): Promise<void> {
  const [toBob, toCarol] = s.conversations.map((id) => acked.filter((m) => m.conversationId === id).map((m) => m.seq));
  const count = (id: string) => acked.filter((m) => m.conversationId === id).length;
  expect(toBob).toEqual(Array.from({ length: count(s.conversations[0]!) }, (_, i) => i + 1));
  expect(toCarol).toEqual(Array.from({ length: count(s.conversations[1]!) }, (_, i) => i + 1));

  await until(() => s.bobShows.messages.get(s.conversations[0]!)!.length === toBob!.length, 'Bob to show every message', 60_000);
  await until(() => s.carolShows.messages.get(s.conversations[1]!)!.length === toCarol!.length, 'Carol to show every message', 60_000);
  const pushedToRaw = () => s.bobRaw.frames.filter((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message');
  await until(() => pushedToRaw().length >= toBob!.length, 'the raw socket to get every push', 60_000);
  // A moment for any late duplicate to show up.
  await new Promise((resolve) => setTimeout(resolve, 500));

  expect(s.bobShows.violations).toEqual([]);
  expect(s.carolShows.violations).toEqual([]);
  expect(s.bobShows.messages.get(s.conversations[0]!)!.map((m) => m.id)).toEqual(acked.filter((m) => m.conversationId === s.conversations[0]).map((m) => m.id));
  expect(pushedToRaw().map((f) => f.message.seq)).toEqual(toBob);
  // The relays published and deleted every outbox row.
  await until(async () => (await outboxRows()) === 0, 'the outbox to drain');
}

async function outboxRows(): Promise<number> {
  const row = await n1.kkchat.platform.db.selectFrom('outbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function leaseOwners(): Promise<string[]> {
  const rows = await n1.kkchat.platform.db.selectFrom('outbox_leases').select('owner').where('expires_at', '>', Date.now()).execute();
  return rows.map((r) => r.owner ?? '');
}

describe('cluster delivery guarantee', () => {
  it('holds while outbox relays join, stop and are killed (their shards move between nodes)', async () => {
    const s = await scenario();
    const acked = await sendWhile(s, () => [n1.url, n2.url], async () => {
      // A worker joins: it takes its share of the shards from n1 and n2.
      const worker = await cluster.processNode('w3', { KKCHAT_ROLES: 'worker' });
      await until(async () => (await leaseOwners()).some((o) => o.startsWith('w3.')), 'w3 to take shards');
      // It is killed (kill -9) in the middle of relaying: its leases expire and the others take its shards.
      await worker.kill('SIGKILL');
      await until(async () => !(await leaseOwners()).some((o) => o.startsWith('w3.')), 'the shards of w3 to move', 30_000);
      // Another joins and leaves cleanly: its shards are handed back at once.
      const second = await cluster.processNode('w4', { KKCHAT_ROLES: 'worker' });
      await until(async () => (await leaseOwners()).some((o) => o.startsWith('w4.')), 'w4 to take shards');
      await second.kill('SIGTERM');
    });
    expect(acked.length).toBeGreaterThan(100);
    await expectExactlyOnce(s, acked);
  }, 180_000);

  it('holds while a gateway node restarts under its clients', async () => {
    const gateway = await cluster.processNode('g5', { KKCHAT_ROLES: 'gateway,api' });
    const s = await scenario(gateway.url);
    const acked = await sendWhile(s, () => [n1.url, n2.url], async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await gateway.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await gateway.restart();
      await until(() => s.carol.state === 'online', 'Carol to reconnect to the restarted gateway');
    });
    await expectExactlyOnce(s, acked);
  }, 180_000);

  it('holds while the Kafka broker restarts (sends are still acknowledged; the outbox waits)', async () => {
    const s = await scenario();
    const acked = await sendWhile(s, () => [n1.url, n2.url], async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await cluster.kafka.kill();
      // Sends go on being acknowledged; their events wait in the outbox; /readyz says the bus is down.
      await until(async () => (await outboxRows()) >= 10, 'events to wait in the outbox');
      const down = await fetch(`${n1.url}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { checks: Record<string, string> }).checks).toMatchObject({ database: 'ok', bus: expect.stringMatching(/^failed/) });
      await cluster.kafka.start();
    });
    await expectExactlyOnce(s, acked);
    await until(async () => (await fetch(`${n1.url}/readyz`)).status === 200, 'readiness once the broker is back');
    // The consumer's lag is on /metrics (refreshed every 10 s), back at 0 once it has caught up.
    await until(async () => {
      const text = await (await fetch(`${n1.url}/metrics`)).text();
      const lags = [...text.matchAll(/^kkchat_bus_consumer_lag\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
      return lags.length === 4 && lags.every((lag) => lag === 0);
    }, 'the consumer lag metric at 0 on every partition', 30_000);
  }, 180_000);
});
