import { CLOSE_CODES, type ServerFrame } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startKafkaCluster, until, type TestCluster } from '../support/kafka-cluster.js';
import { api, befriend, nextRid, RawSocket, registerUser } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Roles (issue 5): the same program as an API node, a gateway node and a worker node. A message sent over REST
 * to the API node is stored there (with its outbox row), relayed to Kafka by the worker and pushed by the
 * gateway to the socket it holds; each node serves only its own part.
 */
let cluster: TestCluster;
let apiNode: TestServer;
let gatewayNode: TestServer;
let workerNode: TestServer;

beforeAll(async () => {
  cluster = await startKafkaCluster();
  [apiNode, gatewayNode, workerNode] = await Promise.all([
    cluster.node('api1', { KKCHAT_ROLES: 'api' }),
    cluster.node('gw1', { KKCHAT_ROLES: 'gateway' }),
    cluster.node('wk1', { KKCHAT_ROLES: 'worker' }),
  ]);
}, 180_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

function upgrades(wsUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    ws.once('open', () => {
      ws.close();
      resolve(true);
    });
    ws.once('error', () => resolve(false));
  });
}

describe('roles', () => {
  it('each node serves its own part, and /healthz everywhere', async () => {
    for (const node of [apiNode, gatewayNode, workerNode]) expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    expect((await api(apiNode.url, 'GET', '/users/me')).status).toBe(401); // there, and asking for a token
    expect((await api(gatewayNode.url, 'GET', '/users/me')).status).toBe(404);
    expect((await api(workerNode.url, 'GET', '/users/me')).status).toBe(404);
    expect(await upgrades(gatewayNode.wsUrl)).toBe(true);
    expect(await upgrades(apiNode.wsUrl)).toBe(false);
    expect(await upgrades(workerNode.wsUrl)).toBe(false);
  });

  it('a REST send on the API node reaches the socket on the gateway node through the worker relay', async () => {
    const alice = await registerUser(apiNode.url, 'ra');
    const bob = await registerUser(apiNode.url, 'rb');
    const conversationId = await befriend(apiNode.url, alice, bob);
    const socket = await RawSocket.connect(gatewayNode.wsUrl, bob.accessToken);
    const sent = await api<{ message: { seq: number } }>(apiNode.url, 'POST', `/conversations/${conversationId}/messages`, {
      token: alice.accessToken,
      body: { clientMsgId: nextRid('c'), kind: 'text', text: 'through three roles' },
    });
    expect(sent.status).toBe(201);
    await until(() => socket.frames.some((f) => f.type === 'message'), 'the push on the gateway');
    const pushed = socket.frames.find((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message')!;
    expect(pushed.message).toMatchObject({ conversationId, seq: sent.body.message.seq, senderId: alice.user.id });
    socket.close();
  });

  it('signing out on the API node closes that session\'s socket on the gateway node at once (BR-15)', async () => {
    const user = await registerUser(apiNode.url, 'rs');
    const socket = await RawSocket.connect(gatewayNode.wsUrl, user.accessToken);
    expect((await api(apiNode.url, 'POST', '/auth/logout', { token: user.accessToken })).status).toBe(204);
    expect((await socket.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
  });
});
