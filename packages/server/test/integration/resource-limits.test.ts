import type { FriendRequest } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { api, eventually, expectError, registerUser, startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ KKCHAT_WS_MAX_PER_IP: '3', KKCHAT_API_MAX_PER_MIN: '20' });
});
afterAll(async () => {
  await server.close();
});

/** Resolves with the HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgradeStatus(url: string): Promise<{ status: number; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, ws }));
    ws.once('error', () => undefined);
  });
}

describe('per-address WebSocket cap', () => {
  it('refuses sockets over the cap with 429 and frees the slot when one closes', async () => {
    const open = await Promise.all([1, 2, 3].map(() => upgradeStatus(server.wsUrl)));
    expect(open.map((o) => o.status)).toEqual([101, 101, 101]);
    expect((await upgradeStatus(server.wsUrl)).status).toBe(429);

    open[0]!.ws.close();
    await eventually(async () => (await upgradeStatus(server.wsUrl).then((r) => (r.ws.close(), r.status))) === 101);
    for (const o of open) o.ws.close();
    await eventually(() => server.kkchat.gateway.stats().addresses === 0);
  });
});

describe('per-user REST budget', () => {
  it('answers 429 RATE_LIMITED with Retry-After once the budget is spent, for every device of the user', async () => {
    const user = await registerUser(server.url, 'budget');
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await api(server.url, 'GET', '/users/me', { token: user.accessToken })).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const login = await api<{ accessToken: string }>(server.url, 'POST', '/auth/login', {
      body: { username: user.user.username, password: user.password },
    });
    const refused = await api(server.url, 'GET', '/users/me', { token: login.body.accessToken });
    expectError(refused, 429, 'RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('friend request notes', () => {
  it('are cleaned of bidi overrides, zero-width and control characters', async () => {
    const a = await registerUser(server.url, 'notea');
    const b = await registerUser(server.url, 'noteb');
    const sent = await api<{ request: FriendRequest }>(server.url, 'POST', '/friend-requests', {
      token: a.accessToken,
      body: { userId: b.user.id, note: '\u202Eevil\u200B note\u0007  here ' },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.request.note).toBe('evil note here');
  });
});
