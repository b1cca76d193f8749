import { CLOSE_CODES, type ConversationSummary, type Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, makeAdmin } from '../support/admin.js';
import { buildGroup } from '../support/groups.js';
import { api, befriend, eventually, expectError, registerUser, RawSocket, restSend, type User } from '../support/helpers.js';
import { startKafkaCluster, type TestCluster } from '../support/kafka-cluster.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Administration in cluster mode (issue 7): two nodes on PostgreSQL, Redis and a real Kafka broker. The admin acts
 * on node 1; the user's sockets, their friends and the group's members are on node 2, so everything that happens
 * there travelled through the shared stores and the bus (BR-14 across nodes).
 */
let cluster: TestCluster;
let node1: TestServer;
let node2: TestServer;
let admin: ReturnType<typeof adminApi>;
let boss: User;

beforeAll(async () => {
  cluster = await startKafkaCluster();
  node1 = await cluster.node('a1');
  node2 = await cluster.node('a2');
  admin = adminApi(node1);
  boss = (await registerUser(node1.url, 'cboss')) as User;
  await makeAdmin(node1, boss);
}, 240_000);

afterAll(async () => {
  await cluster?.close();
}, 120_000);

describe('administration across nodes', () => {
  it('a disable on node 1 closes the user’s sockets on both nodes at once and refuses their token on node 2', async () => {
    const u = (await registerUser(node2.url, 'cu')) as User;
    const friend = (await registerUser(node2.url, 'cf')) as User;
    await befriend(node2.url, friend, u);
    const watcher = await RawSocket.connect(node2.wsUrl, friend.accessToken);
    const onNode2 = await RawSocket.connect(node2.wsUrl, u.accessToken);
    const onNode1 = await RawSocket.connect(node1.wsUrl, u.accessToken);
    await watcher.next('presence', (f) => f.userId === u.user.id && f.online, 10_000);

    const started = Date.now();
    expect((await admin.disable(boss, u.user.id)).status).toBe(200);
    expect((await onNode2.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DISABLED);
    expect((await onNode1.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DISABLED);
    expect(Date.now() - started).toBeLessThan(5000);
    expectError(await api(node2.url, 'GET', '/users/me', { token: u.accessToken }), 403, 'ACCOUNT_DISABLED');
    expectError(await api(node2.url, 'POST', '/auth/login', { body: { username: u.user.username, password: u.password } }), 403, 'ACCOUNT_DISABLED');
    await watcher.next('presence', (f) => f.userId === u.user.id && !f.online, 10_000);
    watcher.close();
  });

  it('a group disabled on node 1 refuses sends on node 2; a message removed on node 1 reaches a member on node 2 live', async () => {
    const g = await buildGroup(node2, { members: 1, prefix: 'cg' });
    const [member] = g.members as [User];
    const sent = await restSend(node2, g.owner, g.conversationId, 'say this on node 2');
    expect(sent.status).toBe(201);
    const socket = await RawSocket.connect(node2.wsUrl, member.accessToken);

    await admin.removeMessage(boss, g.conversationId, sent.body.message.seq);
    const removed = await socket.next('message.removed', (f) => f.message.seq === sent.body.message.seq, 10_000);
    expect(removed.message.kind).toBe('removed');
    await socket.next('message', (f) => f.message.kind === 'redaction', 10_000);
    const summary = await api<{ conversation: ConversationSummary }>(node2.url, 'GET', `/conversations/${g.conversationId}`, { token: member.accessToken });
    expect((summary.body.conversation.lastMessage as Message | null)?.kind).toBe('removed');

    expect((await admin.call(boss, 'POST', `/groups/${g.conversationId}/disable`, { reason: 'review' })).status).toBe(200);
    await socket.next('group.updated', (f) => f.conversationId === g.conversationId, 10_000);
    await eventually(async () => (await restSend(node2, g.owner, g.conversationId, 'still?')).status === 403);
    expectError(await restSend(node2, member, g.conversationId, 'me neither'), 403, 'GROUP_DISABLED');
    socket.close();
  });
});
