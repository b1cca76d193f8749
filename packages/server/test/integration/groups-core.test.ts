import type { ConversationSummary, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import {
  api,
  befriend,
  eventually,
  expectError,
  framesOf,
  history,
  pingPong,
  RawSocket,
  restSend,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

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

const texts = (messages: Message[]) => messages.map((m) => (m.kind === 'text' ? m.text : `[${m.kind === 'system' ? m.event.type : m.kind}]`));

describe('groups: messages on the shared pipeline', () => {
  it('creates a group of friends with a system message, and fans out to every device of every member', async () => {
    const g = await buildGroup(server, { members: 2 });
    const [m1, m2] = g.members as [User, User];
    const summary = (await groups.get(g.owner, g.conversationId)).body.conversation;
    expect(summary.kind).toBe('group');
    expect(summary.group).toMatchObject({ name: 'Team', memberCount: 4, role: 'owner', membership: 'active', joinMode: 'approval' });
    const first = (await history(server, g.owner, g.conversationId)).body.messages;
    expect(first.map((m) => m.kind === 'system' && m.event.type)).toEqual(['group_created', 'role_changed']);

    const devices = [await connect(g.owner), await connect(g.owner), await connect(g.admin), await connect(m1), await connect(m1), await connect(m2)];
    const ack = await wsSend(devices[0]!, g.conversationId, 'hello all');
    expect(ack.type).toBe('ack');
    const seq = ack.type === 'ack' ? ack.message.seq : 0;
    expect(seq).toBe(3);
    for (const device of devices.slice(1)) {
      const frame = await device.next('message', (f) => f.message.seq === seq);
      expect(frame.message).toMatchObject({ kind: 'text', text: 'hello all', senderId: g.owner.user.id });
    }
    // The same ids, seqs and order in everyone's history.
    const views = await Promise.all([g.owner, g.admin, m1, m2].map(async (u) => (await history(server, u, g.conversationId)).body.messages));
    for (const view of views) expect(view).toEqual(views[0]);
  });

  it('relays typing to the other members only', async () => {
    const g = await buildGroup(server, { members: 1 });
    const [o, a, m] = [await connect(g.owner), await connect(g.admin), await connect(g.members[0]!)];
    m.send({ type: 'typing', conversationId: g.conversationId });
    await o.next('typing', (f) => f.userId === g.members[0]!.user.id);
    await a.next('typing', (f) => f.userId === g.members[0]!.user.id);
    await pingPong(m);
    expect(framesOf(m, 'typing')).toEqual([]);
  });

  it('lists groups for members only; a non-member sees nothing (BR-19)', async () => {
    const g = await buildGroup(server);
    const outsider = await newUser(server);
    const mine = await api<{ conversations: ConversationSummary[] }>(server.url, 'GET', '/groups', { token: g.members[0]!.accessToken });
    expect(mine.body.conversations.map((c) => c.id)).toContain(g.conversationId);
    expectError(await groups.get(outsider, g.conversationId), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await history(server, outsider, g.conversationId), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await groups.members(outsider, g.conversationId), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await restSend(server, outsider, g.conversationId, 'x'), 404, 'CONVERSATION_NOT_FOUND');
  });

  it('BR-11: a removed member cannot post, over WS or REST, nor type; no seq is used up; they are told', async () => {
    const g = await buildGroup(server);
    const m = g.members[0]!;
    const mSocket = await connect(m);
    const aSocket = await connect(g.admin);
    const before = (await restSend(server, g.admin, g.conversationId, 'before')).body.message.seq;
    expect((await groups.remove(g.owner, g.conversationId, m.user.id)).status).toBe(200);
    const removal = await mSocket.next('message', (f) => f.message.kind === 'system' && f.message.event.type === 'member_removed');
    expect(removal.message.seq).toBe(before + 1);
    await mSocket.next('group.removed', (f) => f.conversationId === g.conversationId && f.reason === 'removed');

    const wsReply = await wsSend(mSocket, g.conversationId, 'still here');
    expect(wsReply).toMatchObject({ type: 'error', code: 'NOT_MEMBER' });
    expectError(await restSend(server, m, g.conversationId, 'still here'), 403, 'NOT_MEMBER');
    mSocket.send({ type: 'typing', conversationId: g.conversationId });
    await eventually(() => framesOf(mSocket, 'error').some((f) => f.code === 'NOT_MEMBER' && f.rid === undefined));
    await pingPong(aSocket);
    expect(framesOf(aSocket, 'typing')).toEqual([]);

    const next = await restSend(server, g.admin, g.conversationId, 'after');
    expect(next.body.message.seq).toBe(before + 2);
    const all = (await history(server, g.admin, g.conversationId)).body.messages;
    expect(all.some((msg) => msg.senderId === m.user.id && msg.kind === 'text')).toBe(false);
  });

  it('BR-12: a removed member gets nothing after removal, keeps what they had, and a re-added member starts fresh (no stale mute)', async () => {
    const g = await buildGroup(server);
    const m = g.members[0]!;
    const mSocket = await connect(m);
    await restSend(server, g.admin, g.conversationId, 'before-removal');
    // A mute that must not survive the removal.
    await groups.mute(g.owner, g.conversationId, m.user.id, Date.now() + 3_600_000);
    await groups.remove(g.owner, g.conversationId, m.user.id);
    const removedAt = (await mSocket.next('message', (f) => f.message.kind === 'system' && f.message.event.type === 'member_removed')).message.seq;

    const after = await restSend(server, g.admin, g.conversationId, 'after-removal');
    const hi = await wsSend(mSocket, g.conversationId, 'hi');
    expect(hi).toMatchObject({ type: 'error', code: 'NOT_MEMBER' });
    await pingPong(mSocket);
    expect(framesOf(mSocket, 'message').some((f) => f.message.seq === after.body.message.seq)).toBe(false);

    const synced = await history(server, m, g.conversationId, 'after=0');
    expect(synced.status).toBe(200);
    expect(texts(synced.body.messages)).toContain('before-removal');
    expect(texts(synced.body.messages)).not.toContain('after-removal');
    expect(synced.body.lastSeq).toBe(removedAt);
    expect(Math.max(...synced.body.messages.map((x) => x.seq))).toBe(removedAt);
    const beyond = await history(server, m, g.conversationId, `after=${removedAt}`);
    expect(beyond.body.messages).toEqual([]);
    const summary = (await groups.get(m, g.conversationId)).body.conversation;
    expect(summary.group).toMatchObject({ membership: 'removed', role: null });
    expect(summary.lastSeq).toBe(removedAt);

    // Re-added: receives new messages, can send, is not muted; sees nothing posted while out.
    await befriend(server.url, g.admin, m).catch(() => undefined);
    expect((await groups.add(g.owner, g.conversationId, [m.user.id])).body).toEqual({ added: [m.user.id], requested: [] });
    const readd = await restSend(server, g.admin, g.conversationId, 'after-readd');
    await mSocket.next('message', (f) => f.message.seq === readd.body.message.seq);
    const back = await wsSend(mSocket, g.conversationId, 'back');
    expect(back.type).toBe('ack');
    const view = await history(server, m, g.conversationId, 'after=0');
    expect(texts(view.body.messages)).toContain('after-readd');
    expect(texts(view.body.messages)).not.toContain('after-removal');
    expect(texts(view.body.messages)).not.toContain('before-removal');
    expect(view.body.earliestAvailableSeq).toBeGreaterThan(after.body.message.seq);
  });

  it('departed members: leaving keeps history to the departure; the owner must transfer before leaving', async () => {
    const g = await buildGroup(server);
    const m = g.members[0]!;
    expectError(await groups.leave(g.owner, g.conversationId), 409, 'GROUP_OWNER_CANNOT_LEAVE');
    await restSend(server, m, g.conversationId, 'bye soon');
    expect((await groups.leave(m, g.conversationId)).status).toBe(200);
    await restSend(server, g.admin, g.conversationId, 'after leave');
    const view = await history(server, m, g.conversationId);
    expect(texts(view.body.messages).slice(-2)).toEqual(['bye soon', '[member_left]']);
    expectError(await restSend(server, m, g.conversationId, 'x'), 403, 'NOT_MEMBER');

    expect((await groups.transfer(g.owner, g.conversationId, g.admin.user.id)).status).toBe(200);
    expect((await groups.get(g.admin, g.conversationId)).body.conversation.group).toMatchObject({ role: 'owner', ownerId: g.admin.user.id });
    expect((await groups.leave(g.owner, g.conversationId)).status).toBe(200);
  });

  it('settings, announcement and system messages with their own seq, identical for all members', async () => {
    const g = await buildGroup(server);
    const sockets2 = [await connect(g.owner), await connect(g.admin), await connect(g.members[0]!)];
    const changed = await groups.update(g.admin, g.conversationId, { name: 'Renamed', announcement: 'Standup at 10', joinMode: 'open' });
    expect(changed.status).toBe(200);
    expect(changed.body.conversation.group).toMatchObject({ name: 'Renamed', announcement: 'Standup at 10', joinMode: 'open' });
    for (const socket of sockets2) {
      await socket.next('message', (f) => f.message.kind === 'system' && f.message.event.type === 'announcement_changed');
      await socket.next('group.updated', (f) => f.conversationId === g.conversationId);
    }
    const views = await Promise.all([g.owner, g.admin, g.members[0]!].map(async (u) => (await history(server, u, g.conversationId)).body.messages));
    const events = views[0]!.filter((m) => m.kind === 'system').map((m) => (m.kind === 'system' ? m.event.type : ''));
    expect(events).toEqual(expect.arrayContaining(['name_changed', 'announcement_changed', 'join_mode_changed']));
    for (const view of views) expect(view).toEqual(views[0]);
  });

  it('mentions count for the mentioned member only; @all is for owner/admins', async () => {
    const g = await buildGroup(server, { members: 2 });
    const [m1, m2] = g.members as [User, User];
    const socket = await connect(m1);
    const ack = await wsSend(socket, g.conversationId, '@m2 look', undefined, { mentions: [m2.user.id, 'not-a-member'] });
    expect(ack.type === 'ack' && ack.message.kind === 'text' && ack.message.mentions).toEqual([m2.user.id]);
    expect(await wsSend(socket, g.conversationId, '@all hi', undefined, { mentionAll: true })).toMatchObject({ type: 'error', code: 'MENTION_ALL_FORBIDDEN' });
    const adminAll = await api<{ message: Message }>(server.url, 'POST', `/conversations/${g.conversationId}/messages`, {
      token: g.admin.accessToken,
      body: { clientMsgId: 'all-1', kind: 'text', text: '@all meeting', mentionAll: true },
    });
    expect(adminAll.status).toBe(201);
    const s2 = (await groups.get(m2, g.conversationId)).body.conversation;
    const s1 = (await groups.get(m1, g.conversationId)).body.conversation;
    expect(s2.mentionCount).toBe(2);
    expect(s1.mentionCount).toBe(1);
    expect(s2.unreadCount).toBeGreaterThanOrEqual(2);
  });

  it('mute a member, mute all: MEMBER_MUTED and GROUP_MUTED, distinct from NOT_MEMBER', async () => {
    const g = await buildGroup(server, { members: 2 });
    const [m1, m2] = g.members as [User, User];
    await groups.mute(g.admin, g.conversationId, m1.user.id, Date.now() + 60_000);
    expectError(await restSend(server, m1, g.conversationId, 'x'), 403, 'MEMBER_MUTED');
    await groups.mute(g.admin, g.conversationId, m1.user.id, null);
    expect((await restSend(server, m1, g.conversationId, 'unmuted')).status).toBe(201);
    await groups.update(g.owner, g.conversationId, { mutedAll: true });
    expectError(await restSend(server, m2, g.conversationId, 'x'), 403, 'GROUP_MUTED');
    expect((await restSend(server, g.admin, g.conversationId, 'admins still talk')).status).toBe(201);
  });

  it('dismiss: members are told and the group becomes read-only history', async () => {
    const g = await buildGroup(server);
    const mSocket = await connect(g.members[0]!);
    await restSend(server, g.admin, g.conversationId, 'last words');
    expectError(await groups.dismiss(g.admin, g.conversationId), 403, 'GROUP_PERMISSION_DENIED');
    expect((await groups.dismiss(g.owner, g.conversationId)).status).toBe(200);
    await mSocket.next('message', (f) => f.message.kind === 'system' && f.message.event.type === 'group_dismissed');
    await mSocket.next('group.removed', (f) => f.reason === 'dismissed');
    expectError(await restSend(server, g.owner, g.conversationId, 'x'), 409, 'GROUP_DISMISSED');
    expectError(await groups.update(g.owner, g.conversationId, { name: 'x' }), 409, 'GROUP_DISMISSED');
    const view = await history(server, g.members[0]!, g.conversationId);
    expect(texts(view.body.messages).slice(-2)).toEqual(['last words', '[group_dismissed]']);
    expect((await groups.get(g.members[0]!, g.conversationId)).body.conversation.group).toMatchObject({ membership: 'dismissed' });
  });

  it('invite link: open joins at once, approval files a request an admin approves, invite-only refuses; revoke', async () => {
    const g = await buildGroup(server);
    const [x, y, z] = [await newUser(server), await newUser(server), await newUser(server)];
    expectError(await groups.link(g.members[0]!, g.conversationId), 403, 'GROUP_PERMISSION_DENIED');
    const code = (await groups.link(g.admin, g.conversationId)).body.link.code;
    const preview = await api<{ group: { name: string; memberCount: number } }>(server.url, 'GET', `/groups/invites/${code}`, { token: x.accessToken });
    expect(preview.body.group).toMatchObject({ name: 'Team', memberCount: 3 });

    expect((await groups.join(x, code)).body.status).toBe('requested');
    expectError(await groups.join(x, code), 409, 'JOIN_REQUEST_EXISTS');
    const requests = await api<{ requests: { id: string; user: { id: string } }[] }>(server.url, 'GET', `/groups/${g.conversationId}/requests`, { token: g.admin.accessToken });
    expect(requests.body.requests.map((r) => r.user.id)).toEqual([x.user.id]);
    expectError(await groups.call(g.members[0]!, 'POST', `/groups/${g.conversationId}/requests/${requests.body.requests[0]!.id}/approve`), 403, 'GROUP_PERMISSION_DENIED');
    expect((await groups.call(g.admin, 'POST', `/groups/${g.conversationId}/requests/${requests.body.requests[0]!.id}/approve`)).status).toBe(200);
    expect((await groups.get(x, g.conversationId)).body.conversation.group?.membership).toBe('active');

    await groups.update(g.owner, g.conversationId, { joinMode: 'open' });
    expect((await groups.join(y, code)).body.status).toBe('joined');
    expectError(await groups.join(y, code), 409, 'ALREADY_GROUP_MEMBER');
    await groups.update(g.owner, g.conversationId, { joinMode: 'invite_only' });
    expectError(await groups.join(z, code), 403, 'GROUP_JOIN_CLOSED');
    await groups.update(g.owner, g.conversationId, { joinMode: 'open' });
    await groups.call(g.admin, 'DELETE', `/groups/${g.conversationId}/invite-link`);
    expectError(await groups.join(z, code), 404, 'INVITE_LINK_INVALID');
  });
});
