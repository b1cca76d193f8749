import type { ConversationSummary, GroupMember, MarkReadResponse, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGroup, groupApi } from '../support/groups.js';
import {
  api,
  eventually,
  expectError,
  framesOf,
  history,
  nextRid,
  pingPong,
  RawSocket,
  replyTo,
  restSend,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Groups on the shared pipeline, as a member sees them: presence in the member list, idempotent sends (a retry
 * and a concurrent duplicate come back as the one stored message), and read cursors, which in groups move for
 * the reader only (docs/protocol.md, Groups: read receipts are not broadcast and `peerReadSeq` is 0).
 */
let server: TestServer;
let groups: ReturnType<typeof groupApi>;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startServer();
  groups = groupApi(server);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
});

async function connect(user: User): Promise<RawSocket> {
  const socket = await RawSocket.connect(server.wsUrl, user.accessToken);
  sockets.push(socket);
  return socket;
}

async function presenceOf(viewer: User, conversationId: string): Promise<Record<string, GroupMember['presence']>> {
  const listed = await groups.members(viewer, conversationId);
  expect(listed.status).toBe(200);
  return Object.fromEntries(listed.body.members.map((m) => [m.user.id, m.presence]));
}

async function summary(user: User, conversationId: string): Promise<ConversationSummary> {
  return (await groups.get(user, conversationId)).body.conversation;
}

function markRead(user: User, conversationId: string, seq: number) {
  return api<MarkReadResponse>(server.url, 'POST', `/conversations/${conversationId}/read`, { token: user.accessToken, body: { seq } });
}

describe('group member list: presence', () => {
  it('shows members online while a device is connected and offline with a last-seen time after; a blocker shows offline to the blocked', async () => {
    const g = await buildGroup(server, { members: 2, prefix: 'dp' });
    const [m1, m2] = g.members as [User, User];
    await connect(g.owner);
    await connect(g.admin);

    const initial = await presenceOf(g.owner, g.conversationId);
    expect(initial).toEqual({
      [g.owner.user.id]: { online: true, lastSeenAt: null },
      [g.admin.user.id]: { online: true, lastSeenAt: null },
      [m1.user.id]: { online: false, lastSeenAt: null },
      [m2.user.id]: { online: false, lastSeenAt: null },
    });

    const m2Socket = await RawSocket.connect(server.wsUrl, m2.accessToken);
    expect((await presenceOf(g.owner, g.conversationId))[m2.user.id]).toEqual({ online: true, lastSeenAt: null });
    const closedAfter = Date.now();
    m2Socket.close();
    const offline = (await eventually(async () => {
      const seen = (await presenceOf(g.admin, g.conversationId))[m2.user.id]!;
      return !seen.online && seen;
    })) as GroupMember['presence'];
    expect(offline.lastSeenAt).toBeGreaterThanOrEqual(closedAfter - 1000);
    expect(offline.lastSeenAt).toBeLessThanOrEqual(Date.now());

    // m1 comes online and blocks the owner: the owner sees m1 offline (and no last-seen), the admin sees m1 online.
    await connect(m1);
    expect((await api(server.url, 'PUT', `/blocks/${g.owner.user.id}`, { token: m1.accessToken })).status).toBe(204);
    expect((await presenceOf(g.owner, g.conversationId))[m1.user.id]).toEqual({ online: false, lastSeenAt: null });
    expect((await presenceOf(g.admin, g.conversationId))[m1.user.id]).toEqual({ online: true, lastSeenAt: null });
  });
});

describe('group sends are idempotent on clientMsgId', () => {
  it('a retried send (REST or WebSocket) returns the stored message, delivered and stored once', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'di' });
    const member = g.members[0]!;
    const [ownerSocket, memberSocket] = [await connect(g.owner), await connect(member)];
    const clientMsgId = nextRid('retry');

    const first = await restSend(server, g.admin, g.conversationId, 'only once', clientMsgId);
    expect(first.status).toBe(201);
    expect(first.body.duplicate).toBe(false);
    const retried = await restSend(server, g.admin, g.conversationId, 'only once', clientMsgId);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ message: first.body.message, duplicate: true });
    const adminSocket = await connect(g.admin);
    const overSocket = await wsSend(adminSocket, g.conversationId, 'only once', clientMsgId);
    expect(overSocket).toMatchObject({ type: 'ack', message: first.body.message, duplicate: true });
    // The same id with other content is a client bug, not a retry.
    expectError(await restSend(server, g.admin, g.conversationId, 'something else', clientMsgId), 409, 'CLIENT_MSG_ID_CONFLICT');

    const next = await restSend(server, g.admin, g.conversationId, 'next');
    expect(next.body.message.seq).toBe(first.body.message.seq + 1);
    for (const socket of [ownerSocket, memberSocket]) {
      await socket.next('message', (f) => f.message.id === next.body.message.id);
      expect(framesOf(socket, 'message').filter((f) => f.message.clientMsgId === clientMsgId)).toHaveLength(1);
    }
    const stored = (await history(server, member, g.conversationId)).body.messages.filter((m) => m.clientMsgId === clientMsgId);
    expect(stored).toEqual([first.body.message]);
  });

  it('concurrent duplicates of one send all answer with the same message and seq; only one is stored', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'dc' });
    const member = g.members[0]!;
    const memberSocket = await connect(member);
    const devices = [await connect(g.owner), await connect(g.owner), await connect(g.owner)];
    const before = (await summary(g.owner, g.conversationId)).lastSeq;
    const clientMsgId = nextRid('dup');

    const answers: { message: Message; duplicate: boolean }[] = await Promise.all([
      ...devices.map(async (socket) => {
        const rid = nextRid();
        socket.send({ type: 'send', rid, conversationId: g.conversationId, clientMsgId, kind: 'text', text: 'racing copies' });
        const reply = await replyTo(socket, rid);
        if (reply.type !== 'ack') throw new Error(`refused: ${JSON.stringify(reply)}`);
        return reply;
      }),
      ...[1, 2, 3].map(async () => {
        const sent = await restSend(server, g.owner, g.conversationId, 'racing copies', clientMsgId);
        if (sent.status >= 300) throw new Error(`refused: ${JSON.stringify(sent.body)}`);
        return sent.body;
      }),
    ]);

    const original = answers.find((a) => !a.duplicate)!;
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    expect(original.message.seq).toBe(before + 1);
    for (const answer of answers) expect(answer.message).toEqual(original.message);
    // No seq was used up by the losing copies, and the member got one frame.
    const after = await restSend(server, g.owner, g.conversationId, 'after the race');
    expect(after.body.message.seq).toBe(before + 2);
    await memberSocket.next('message', (f) => f.message.id === after.body.message.id);
    expect(framesOf(memberSocket, 'message').filter((f) => f.message.clientMsgId === clientMsgId)).toHaveLength(1);
    const stored = (await history(server, member, g.conversationId)).body.messages;
    expect(stored.filter((m) => m.clientMsgId === clientMsgId)).toEqual([original.message]);
    expect(stored.map((m) => m.seq)).toEqual([...stored.keys()].map((i) => i + 1));
  });
});

describe('group read cursors', () => {
  it("move forward only, reach the reader's other devices, and are not broadcast to the group", async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'dr' });
    const member = g.members[0]!;
    const [o1, o2, adminSocket, memberSocket] = [await connect(g.owner), await connect(g.owner), await connect(g.admin), await connect(member)];
    const start = await summary(g.owner, g.conversationId);
    const memberUnread = (await summary(member, g.conversationId)).unreadCount;
    const seqs: number[] = [];
    for (const text of ['one', 'two', 'three']) seqs.push((await restSend(server, g.admin, g.conversationId, text)).body.message.seq);
    const [s1, s2, s3] = seqs as [number, number, number];
    expect(await summary(g.owner, g.conversationId)).toMatchObject({ lastSeq: s3, readSeq: start.readSeq, unreadCount: 3, peerReadSeq: 0 });

    // Over the socket: read.ok to the reading device, a `read` event to the owner's other device only.
    const rid = nextRid('read');
    o1.send({ type: 'read', rid, conversationId: g.conversationId, seq: s2 });
    expect(await o1.next('read.ok', (f) => f.rid === rid)).toMatchObject({ conversationId: g.conversationId, readSeq: s2 });
    expect(await o2.next('read', (f) => f.conversationId === g.conversationId)).toEqual({
      type: 'read',
      conversationId: g.conversationId,
      userId: g.owner.user.id,
      seq: s2,
    });
    expect(await summary(g.owner, g.conversationId)).toMatchObject({ readSeq: s2, unreadCount: 1 });
    // Nobody else in the group hears of it, and nobody's peerReadSeq moves.
    for (const socket of [adminSocket, memberSocket, o1]) {
      await pingPong(socket);
      expect(framesOf(socket, 'read')).toEqual([]);
    }
    expect((await summary(g.admin, g.conversationId)).peerReadSeq).toBe(0);
    expect((await summary(member, g.conversationId)).unreadCount).toBe(memberUnread + 3);

    // Never backwards; not past the end.
    expect((await markRead(g.owner, g.conversationId, s1)).body).toEqual({ readSeq: s2, unreadCount: 1 });
    expectError(await markRead(g.owner, g.conversationId, s3 + 1), 400, 'SEQ_OUT_OF_RANGE');
    expect((await markRead(g.owner, g.conversationId, s3)).body).toEqual({ readSeq: s3, unreadCount: 0 });
    await o2.next('read', (f) => f.seq === s3);
    expect(framesOf(o2, 'read').map((f) => f.seq)).toEqual([s2, s3]);
  });

  it('unread and mention counts follow the cursor; a departed member reads only up to the departure', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'dm' });
    const member = g.members[0]!;
    // The member has not read the group's first system messages (creation, the admin's appointment) either.
    const unreadAtStart = (await summary(member, g.conversationId)).unreadCount;
    const mention = await api<{ message: Message }>(server.url, 'POST', `/conversations/${g.conversationId}/messages`, {
      token: g.admin.accessToken,
      body: { clientMsgId: nextRid('men'), kind: 'text', text: '@member look', mentions: [member.user.id] },
    });
    expect(mention.status).toBe(201);
    const plain = (await restSend(server, g.admin, g.conversationId, 'no mention')).body.message.seq;
    expect(await summary(member, g.conversationId)).toMatchObject({ unreadCount: unreadAtStart + 2, mentionCount: 1 });
    expect((await markRead(member, g.conversationId, mention.body.message.seq)).body).toEqual({ readSeq: mention.body.message.seq, unreadCount: 1 });
    expect(await summary(member, g.conversationId)).toMatchObject({ unreadCount: 1, mentionCount: 0 });

    expect((await groups.remove(g.owner, g.conversationId, member.user.id)).status).toBe(200);
    const removal = plain + 1;
    await restSend(server, g.admin, g.conversationId, 'after the removal');
    // The departed member's view stops at the removal message: it counts, what follows does not.
    expect(await summary(member, g.conversationId)).toMatchObject({ lastSeq: removal, unreadCount: 2 });
    expectError(await markRead(member, g.conversationId, removal + 1), 400, 'SEQ_OUT_OF_RANGE');
    expect((await markRead(member, g.conversationId, removal)).body).toEqual({ readSeq: removal, unreadCount: 0 });
  });
});
