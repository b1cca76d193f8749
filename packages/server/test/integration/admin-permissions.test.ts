import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, newAdmin } from '../support/admin.js';
import { buildGroup, newUser } from '../support/groups.js';
import { api, restSend, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The admin API's permission matrix (issue 7): every admin endpoint as an admin, a normal user, a disabled admin
 * and an admin whose role was revoked (with the token they had as an admin). Each cell runs on fresh targets so
 * an allowed action cannot change the next cell; refusals carry a stable code and change nothing.
 */
let server: TestServer;
let admin: ReturnType<typeof adminApi>;
const actors = {} as Record<Actor, User>;

type Actor = 'admin' | 'user' | 'disabledAdmin' | 'demotedAdmin';
const ACTORS: Actor[] = ['admin', 'user', 'disabledAdmin', 'demotedAdmin'];

interface Targets {
  target: User;
  conversationId: string;
  seq: number;
}

interface Cell {
  method: string;
  /** The route as registered (checked against the OpenAPI document so no admin endpoint goes untested). */
  route: string;
  path(t: Targets): string;
  body?: unknown;
  ok: number;
}

const reason = { reason: 'matrix' };
const MATRIX: Cell[] = [
  { method: 'GET', route: '/admin/users', path: () => '/admin/users?q=a', ok: 200 },
  { method: 'GET', route: '/admin/users/{id}', path: (t) => `/admin/users/${t.target.user.id}`, ok: 200 },
  { method: 'POST', route: '/admin/users/{id}/role', path: (t) => `/admin/users/${t.target.user.id}/role`, body: { role: 'admin', ...reason }, ok: 200 },
  { method: 'POST', route: '/admin/users/{id}/disable', path: (t) => `/admin/users/${t.target.user.id}/disable`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/users/{id}/enable', path: (t) => `/admin/users/${t.target.user.id}/enable`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/users/{id}/sign-out', path: (t) => `/admin/users/${t.target.user.id}/sign-out`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/users/{id}/reset-password', path: (t) => `/admin/users/${t.target.user.id}/reset-password`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/users/{id}/delete', path: (t) => `/admin/users/${t.target.user.id}/delete`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/users/disable', path: () => '/admin/users/disable', body: { userIds: ['x'], ...reason }, ok: 200 },
  { method: 'GET', route: '/admin/groups', path: () => '/admin/groups', ok: 200 },
  { method: 'GET', route: '/admin/groups/{id}', path: (t) => `/admin/groups/${t.conversationId}`, ok: 200 },
  { method: 'POST', route: '/admin/groups/{id}/disable', path: (t) => `/admin/groups/${t.conversationId}/disable`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/groups/{id}/enable', path: (t) => `/admin/groups/${t.conversationId}/enable`, body: reason, ok: 200 },
  { method: 'POST', route: '/admin/groups/{id}/delete', path: (t) => `/admin/groups/${t.conversationId}/delete`, body: reason, ok: 200 },
  { method: 'GET', route: '/admin/conversations/{id}/messages', path: (t) => `/admin/conversations/${t.conversationId}/messages`, ok: 200 },
  {
    method: 'POST',
    route: '/admin/conversations/{id}/messages/{seq}/remove',
    path: (t) => `/admin/conversations/${t.conversationId}/messages/${t.seq}/remove`,
    body: reason,
    ok: 200,
  },
  { method: 'GET', route: '/admin/audit', path: () => '/admin/audit', ok: 200 },
  { method: 'GET', route: '/admin/stats', path: () => '/admin/stats', ok: 200 },
];

const EXPECTED_REFUSAL: Record<Exclude<Actor, 'admin'>, [number, string]> = {
  user: [403, 'ADMIN_REQUIRED'],
  disabledAdmin: [403, 'ACCOUNT_DISABLED'],
  demotedAdmin: [403, 'ADMIN_REQUIRED'],
};

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
  actors.admin = await newAdmin(server, 'pa');
  actors.user = await newUser(server, 'pu');
  actors.disabledAdmin = await newAdmin(server, 'pd');
  actors.demotedAdmin = await newAdmin(server, 'pr');
  expect((await admin.disable(actors.admin, actors.disabledAdmin.user.id)).status).toBe(200);
  expect((await admin.setRole(actors.admin, actors.demotedAdmin.user.id, 'user')).status).toBe(200);
});
afterAll(async () => {
  await server.close();
});

async function targets(): Promise<Targets> {
  const target = await newUser(server, 'pt');
  const g = await buildGroup(server, { members: 1, prefix: 'pg' });
  const sent = await restSend(server, g.owner, g.conversationId, 'to be moderated');
  return { target, conversationId: g.conversationId, seq: sent.body.message.seq };
}

describe('admin permission matrix (endpoint × caller)', () => {
  it('covers every admin endpoint the server has', async () => {
    const doc = await fetch(`${server.url}/api/openapi.json`).then((r) => r.json() as Promise<{ paths: Record<string, Record<string, unknown>> }>);
    const served = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/admin'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.slice('/api/v1'.length)}`));
    expect(served.sort()).toEqual(MATRIX.map((c) => `${c.method} ${c.route}`).sort());
  });

  for (const cell of MATRIX) {
    it(`${cell.method} ${cell.route}`, async () => {
      const results: Record<string, unknown> = {};
      for (const actor of ACTORS) {
        const t = await targets();
        // The enable cell needs something to enable.
        if (cell.route.endsWith('/enable')) {
          await api(server.url, 'POST', cell.path(t).replace(/enable$/, 'disable'), { token: actors.admin.accessToken, body: reason });
        }
        const response = await api(server.url, cell.method, cell.path(t), {
          token: actors[actor].accessToken,
          ...(cell.body !== undefined ? { body: cell.body } : {}),
        });
        const code = (response.body as { error?: { code: string } } | null)?.error?.code;
        results[actor] = actor === 'admin' ? response.status : [response.status, code];
      }
      expect(results).toEqual({ admin: cell.ok, ...EXPECTED_REFUSAL });
    });
  }

  it('a refused call changes nothing and is not in the audit log', async () => {
    const t = await targets();
    const before = (await admin.audit(actors.admin, `targetId=${t.target.user.id}`)).body.entries.length;
    const refused = await admin.disable(actors.user, t.target.user.id);
    expect(refused.status).toBe(403);
    const after = await admin.user(actors.admin, t.target.user.id);
    expect(after.body.user.status).toBe('active');
    expect((await admin.audit(actors.admin, `targetId=${t.target.user.id}`)).body.entries.length).toBe(before);
    // The target still works normally.
    expect((await api(server.url, 'GET', '/users/me', { token: t.target.accessToken })).status).toBe(200);
  });
});
