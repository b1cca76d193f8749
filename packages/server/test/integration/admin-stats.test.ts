import type { AdminStats } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, newAdmin } from '../support/admin.js';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import { eventually, friends, RawSocket, restSend, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The admin dashboard (`GET /admin/stats`): "online now" and "active groups". A server of its own, so the figures
 * are exact. The per-day series are in db-contract-admin.test.ts, storage in admin-files.test.ts.
 */
const DAY_MS = 86_400_000;
let server: TestServer;
let admin: ReturnType<typeof adminApi>;
let boss: User;

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
  boss = await newAdmin(server, 'sboss');
});
afterAll(async () => {
  await server.close();
});

async function stats(): Promise<AdminStats> {
  const response = await admin.call<AdminStats>(boss, 'GET', '/stats');
  expect(response.status).toBe(200);
  return response.body;
}

describe('dashboard figures', () => {
  it('online now counts users with an open socket, once per user however many devices, and drops when they go', async () => {
    const u = await newUser(server, 'on');
    const v = await newUser(server, 'on');
    const base = (await stats()).onlineNow;
    const u1 = await RawSocket.connect(server.wsUrl, u.accessToken);
    expect((await stats()).onlineNow).toBe(base + 1);
    const u2 = await RawSocket.connect(server.wsUrl, u.accessToken);
    const v1 = await RawSocket.connect(server.wsUrl, v.accessToken);
    expect((await stats()).onlineNow).toBe(base + 2);

    // One of two devices going leaves the user online; the last one going takes them off.
    u1.close();
    await u1.waitClosed();
    v1.close();
    await eventually(async () => (await stats()).onlineNow === base + 1);
    expect((await stats()).onlineNow).toBe(base + 1);
    u2.close();
    await eventually(async () => (await stats()).onlineNow === base);
    expect((await stats()).onlineNow).toBe(base);
  });

  it('active groups: a message in the last 7 days counts; idle, disabled and dismissed groups do not', async () => {
    const before = (await stats()).groups;
    const groups = groupApi(server);
    const make = async (name: string) => buildGroup(server, { members: 1, prefix: 'sg', name });
    const lively = await make('Lively');
    const quiet = await make('Quiet'); // only the records of its creation: no message anyone sent
    const stale = await make('Stale');
    const disabled = await make('Disabled');
    const dismissed = await make('Dismissed');
    for (const g of [lively, stale, disabled, dismissed]) expect((await restSend(server, g.owner, g.conversationId, `hello ${g.conversationId}`)).status).toBe(201);
    // A direct conversation's messages make no group active.
    const pair = await friends(server, 'sdm');
    await restSend(server, pair.a, pair.conversationId, 'just the two of us');
    // The last message of "Stale" was 8 days ago (moved back in the database: the window is the service's 7 days).
    await server.kkchat.platform.db
      .updateTable('messages')
      .set({ created_at: Date.now() - 8 * DAY_MS })
      .where('conversation_id', '=', stale.conversationId)
      .execute();
    const reason = 'integration test';
    expect((await admin.call(boss, 'POST', `/groups/${disabled.conversationId}/disable`, { reason })).status).toBe(200);
    expect((await groups.dismiss(dismissed.owner, dismissed.conversationId)).status).toBe(200);

    const after = (await stats()).groups;
    // Lively only; the dismissed group leaves the total, the disabled one stays in it and is counted as disabled.
    expect(after).toEqual({ total: before.total + 4, active: before.active + 1, disabled: before.disabled + 1 });

    // A message brings the quiet group in; enabling the disabled one (it has a recent message) brings it back.
    await restSend(server, quiet.members[0]!, quiet.conversationId, 'anyone here?');
    expect((await admin.call(boss, 'POST', `/groups/${disabled.conversationId}/enable`, { reason })).status).toBe(200);
    expect((await stats()).groups).toEqual({ total: before.total + 4, active: before.active + 3, disabled: before.disabled });
  });
});
