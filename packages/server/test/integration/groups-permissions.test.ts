import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGroup, groupApi, newUser, type GroupFixture } from '../support/groups.js';
import { api, befriend, restSend, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The permission matrix of issue 3: every group action × owner, admin, member, non-member and removed member.
 * Each cell runs against a fresh group (so one allowed action cannot change the next cell) and checks the
 * status and, for refusals, the stable code.
 */
let server: TestServer;
let groups: ReturnType<typeof groupApi>;

beforeAll(async () => {
  server = await startServer();
  groups = groupApi(server);
});
afterAll(async () => {
  await server.close();
});

type Actor = 'owner' | 'admin' | 'member' | 'outsider' | 'removed';
const ACTORS: Actor[] = ['owner', 'admin', 'member', 'outsider', 'removed'];

interface Cell {
  /** A fresh group: `target` is a plain member acted on, `friend` a friend of every actor who is not in the group. */
  run(g: GroupFixture, actor: User, ctx: { target: User; friend: User }): Promise<{ status: number; body: unknown }>;
  expect: Record<Actor, number | string>;
}

const NF = 'CONVERSATION_NOT_FOUND';
const NM = 'NOT_MEMBER';
const DENIED = 'GROUP_PERMISSION_DENIED';

const MATRIX: Record<string, Cell> = {
  'read group': { run: (g, a) => groups.get(a, g.conversationId), expect: { owner: 200, admin: 200, member: 200, outsider: NF, removed: 200 } },
  'read history': {
    run: (g, a) => api(server.url, 'GET', `/conversations/${g.conversationId}/messages`, { token: a.accessToken }),
    expect: { owner: 200, admin: 200, member: 200, outsider: NF, removed: 200 },
  },
  'list members': { run: (g, a) => groups.members(a, g.conversationId), expect: { owner: 200, admin: 200, member: 200, outsider: NF, removed: NM } },
  send: { run: (g, a) => restSend(server, a, g.conversationId, 'hi'), expect: { owner: 201, admin: 201, member: 201, outsider: NF, removed: NM } },
  'mention all': {
    run: (g, a) =>
      api(server.url, 'POST', `/conversations/${g.conversationId}/messages`, {
        token: a.accessToken,
        body: { clientMsgId: `all-${Math.random().toString(36).slice(2)}`, kind: 'text', text: '@all', mentionAll: true },
      }),
    expect: { owner: 201, admin: 201, member: 'MENTION_ALL_FORBIDDEN', outsider: NF, removed: NM },
  },
  'rename / announce': { run: (g, a) => groups.update(a, g.conversationId, { name: 'New', announcement: 'x' }), expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM } },
  'mute all': { run: (g, a) => groups.update(a, g.conversationId, { mutedAll: true }), expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM } },
  'member limit': { run: (g, a) => groups.update(a, g.conversationId, { memberLimit: 100 }), expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM } },
  'add friend (approval mode)': {
    run: (g, a, { friend }) => groups.add(a, g.conversationId, [friend.user.id]),
    expect: { owner: 200, admin: 200, member: 200, outsider: NF, removed: NM },
  },
  'remove member': { run: (g, a, { target }) => groups.remove(a, g.conversationId, target.user.id), expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM } },
  'remove admin': { run: (g, a) => groups.remove(a, g.conversationId, g.admin.user.id), expect: { owner: 200, admin: 'CANNOT_TARGET_SELF', member: DENIED, outsider: NF, removed: NM } },
  'mute member': {
    run: (g, a, { target }) => groups.mute(a, g.conversationId, target.user.id, Date.now() + 60_000),
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'appoint admin': { run: (g, a, { target }) => groups.role(a, g.conversationId, target.user.id, 'admin'), expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM } },
  transfer: { run: (g, a, { target }) => groups.transfer(a, g.conversationId, target.user.id), expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM } },
  'invite link': { run: (g, a) => groups.link(a, g.conversationId), expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM } },
  'list join requests': {
    run: (g, a) => groups.call(a, 'GET', `/groups/${g.conversationId}/requests`),
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'mark read': {
    run: (g, a) => api(server.url, 'POST', `/conversations/${g.conversationId}/read`, { token: a.accessToken, body: { seq: 1 } }),
    expect: { owner: 200, admin: 200, member: 200, outsider: NF, removed: 200 },
  },
  'approve join request': {
    run: async (g, a) => {
      const code = (await groups.link(g.owner, g.conversationId)).body.link.code;
      const asker = await newUser(server, 'pq');
      await groups.join(asker, code);
      const pending = await groups.call<{ requests: { id: string }[] }>(g.owner, 'GET', `/groups/${g.conversationId}/requests`);
      return groups.call(a, 'POST', `/groups/${g.conversationId}/requests/${pending.body.requests[0]!.id}/approve`);
    },
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'revoke invite link': {
    run: (g, a) => groups.call(a, 'DELETE', `/groups/${g.conversationId}/invite-link`),
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  leave: { run: (g, a) => groups.leave(a, g.conversationId), expect: { owner: 'GROUP_OWNER_CANNOT_LEAVE', admin: 200, member: 200, outsider: NF, removed: NM } },
  dismiss: { run: (g, a) => groups.dismiss(a, g.conversationId), expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM } },
};

async function setup(): Promise<{ g: GroupFixture; actors: Record<Actor, User>; target: User; friend: User }> {
  const g = await buildGroup(server, { members: 3, prefix: 'p' });
  const [member, target, removed] = g.members as [User, User, User];
  const outsider = await newUser(server, 'px');
  const friend = await newUser(server, 'pf');
  for (const user of [g.owner, g.admin, member, outsider, removed]) await befriend(server.url, user, friend);
  await groups.remove(g.owner, g.conversationId, removed.user.id);
  return { g, actors: { owner: g.owner, admin: g.admin, member, outsider, removed }, target, friend };
}

describe('group permission matrix (action × role)', () => {
  for (const [action, cell] of Object.entries(MATRIX)) {
    it(action, async () => {
      const results: Record<string, number | string> = {};
      await Promise.all(
        ACTORS.map(async (actor) => {
          const { g, actors, target, friend } = await setup();
          const response = await cell.run(g, actors[actor], { target, friend });
          const code = (response.body as { error?: { code: string } } | null)?.error?.code;
          results[actor] = response.status < 300 ? response.status : (code ?? response.status);
        }),
      );
      expect(results).toEqual(cell.expect);
    });
  }
});
