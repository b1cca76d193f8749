import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngBytes, uploadFile } from '../support/files.js';
import { buildGroup, groupApi, newUser, type GroupFixture } from '../support/groups.js';
import { api, befriend, eventually, framesOf, RawSocket, restSend, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The permission matrix of issue 3: every group action × owner, admin, member, non-member and removed member.
 * Each cell runs against a fresh group (so one allowed action cannot change the next cell) and checks the
 * status (or, where it matters, what the accepted answer says) and, for refusals, the stable code. Typing is a
 * WebSocket frame: relayed to another member, or answered with an error frame.
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
  /** What an accepted answer shows (default: its status), e.g. whether a link join joined or filed a request. */
  outcome?: (body: unknown) => string;
  expect: Record<Actor, number | string>;
}

const NF = 'CONVERSATION_NOT_FOUND';
const NM = 'NOT_MEMBER';
const DENIED = 'GROUP_PERMISSION_DENIED';
const ALREADY = 'ALREADY_GROUP_MEMBER';

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
    run: async (g, a) => groups.call(a, 'POST', `/groups/${g.conversationId}/requests/${await pendingRequest(g)}/approve`),
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'revoke invite link': {
    run: (g, a) => groups.call(a, 'DELETE', `/groups/${g.conversationId}/invite-link`),
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'reject join request': {
    run: async (g, a) => groups.call(a, 'POST', `/groups/${g.conversationId}/requests/${await pendingRequest(g)}/reject`),
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'demote admin': { run: (g, a) => groups.role(a, g.conversationId, g.admin.user.id, 'member'), expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM } },
  'set join mode': { run: (g, a) => groups.update(a, g.conversationId, { joinMode: 'open' }), expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM } },
  'set description': { run: (g, a) => groups.update(a, g.conversationId, { description: 'About us' }), expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM } },
  'set avatar (own uploaded image)': {
    run: async (g, a) => {
      const picture = await uploadFile(server.url, a, await pngBytes(), 'group.png', { purpose: 'avatar' });
      return groups.update(a, g.conversationId, { avatar: picture.id });
    },
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  unmute: {
    run: async (g, a, { target }) => {
      await ok(groups.mute(g.owner, g.conversationId, target.user.id, Date.now() + 60_000));
      return groups.mute(a, g.conversationId, target.user.id, null);
    },
    expect: { owner: 200, admin: 200, member: DENIED, outsider: NF, removed: NM },
  },
  'remove another admin': {
    run: async (g, a, { target }) => {
      await ok(groups.role(g.owner, g.conversationId, target.user.id, 'admin'));
      return groups.remove(a, g.conversationId, target.user.id);
    },
    expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM },
  },
  'mute another admin': {
    run: async (g, a, { target }) => {
      await ok(groups.role(g.owner, g.conversationId, target.user.id, 'admin'));
      return groups.mute(a, g.conversationId, target.user.id, Date.now() + 60_000);
    },
    expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM },
  },
  'get invite link': {
    run: async (g, a) => {
      await ok(groups.link(g.owner, g.conversationId));
      return groups.call(a, 'GET', `/groups/${g.conversationId}/invite-link`);
    },
    outcome: (body) => ((body as { link: { code: string } | null }).link?.code ? 'link' : 'no link'),
    expect: { owner: 'link', admin: 'link', member: DENIED, outsider: NF, removed: NM },
  },
  'join via link (open)': {
    run: (g, a) => joinWithMode(g, a, 'open'),
    outcome: joinStatus,
    expect: { owner: ALREADY, admin: ALREADY, member: ALREADY, outsider: 'joined', removed: 'joined' },
  },
  'join via link (approval)': {
    run: (g, a) => joinWithMode(g, a, 'approval'),
    outcome: joinStatus,
    expect: { owner: ALREADY, admin: ALREADY, member: ALREADY, outsider: 'requested', removed: 'requested' },
  },
  'join via link (invite only)': {
    run: (g, a) => joinWithMode(g, a, 'invite_only'),
    outcome: joinStatus,
    expect: { owner: ALREADY, admin: ALREADY, member: ALREADY, outsider: 'GROUP_JOIN_CLOSED', removed: 'GROUP_JOIN_CLOSED' },
  },
  typing: {
    run: (g, a, { target }) => typing(g, a, target),
    outcome: () => 'relayed',
    expect: { owner: 'relayed', admin: 'relayed', member: 'relayed', outsider: NF, removed: NM },
  },
  leave: { run: (g, a) => groups.leave(a, g.conversationId), expect: { owner: 'GROUP_OWNER_CANNOT_LEAVE', admin: 200, member: 200, outsider: NF, removed: NM } },
  dismiss: { run: (g, a) => groups.dismiss(a, g.conversationId), expect: { owner: 200, admin: DENIED, member: DENIED, outsider: NF, removed: NM } },
};

/** Fails the cell when a step that prepares it (done by the owner) is refused. */
async function ok<T extends { status: number; body: unknown }>(response: Promise<T>): Promise<T> {
  const done = await response;
  if (done.status >= 300) throw new Error(`setup step refused: ${done.status} ${JSON.stringify(done.body)}`);
  return done;
}

/** A pending join request of a new user, filed through the owner's link (the group starts in approval mode). */
async function pendingRequest(g: GroupFixture): Promise<string> {
  const code = (await ok(groups.link(g.owner, g.conversationId))).body.link.code;
  const asker = await newUser(server, 'pq');
  await ok(groups.join(asker, code));
  const pending = await ok(groups.call<{ requests: { id: string }[] }>(g.owner, 'GET', `/groups/${g.conversationId}/requests`));
  return pending.body.requests[0]!.id;
}

/** The owner sets the join mode and makes a link; the actor follows it. */
async function joinWithMode(g: GroupFixture, actor: User, joinMode: string) {
  await ok(groups.update(g.owner, g.conversationId, { joinMode }));
  const code = (await ok(groups.link(g.owner, g.conversationId))).body.link.code;
  return groups.join(actor, code);
}

function joinStatus(body: unknown): string {
  return (body as { status: string }).status;
}

/**
 * The actor sends a typing frame: relayed when the plain member `target` sees it, else the error frame the
 * actor's socket gets (typing has no rid), reported like an HTTP refusal.
 */
async function typing(g: GroupFixture, actor: User, target: User): Promise<{ status: number; body: unknown }> {
  const [mine, theirs] = await Promise.all([RawSocket.connect(server.wsUrl, actor.accessToken), RawSocket.connect(server.wsUrl, target.accessToken)]);
  try {
    mine.send({ type: 'typing', conversationId: g.conversationId });
    const answer = await eventually((): { status: number; body: unknown } | false => {
      const error = framesOf(mine, 'error')[0];
      if (error) return { status: 400, body: { error: { code: error.code } } };
      const seen = framesOf(theirs, 'typing').find((f) => f.conversationId === g.conversationId && f.userId === actor.user.id);
      return seen ? { status: 200, body: null } : false;
    });
    return answer as { status: number; body: unknown };
  } finally {
    mine.close();
    theirs.close();
  }
}

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
          results[actor] = response.status < 300 ? (cell.outcome?.(response.body) ?? response.status) : (code ?? response.status);
        }),
      );
      expect(results).toEqual(cell.expect);
    });
  }
});
