import { messageText } from '@kkchat/protocol';
import type { Block, Contact, FriendRequest, UserSearchResult } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  befriend,
  eventually,
  expectError,
  framesOf,
  friends,
  history,
  pingPong,
  RawSocket,
  registerUser,
  restSend,
  startServer,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startServer({ KKCHAT_HEARTBEAT_MS: '200' });
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

const search = (user: User, q: string) =>
  api<{ users: UserSearchResult[] }>(server.url, 'GET', `/users/search?q=${encodeURIComponent(q)}`, { token: user.accessToken });
const relationshipTo = async (viewer: User, target: User) =>
  (await search(viewer, target.user.username)).body.users.find((r) => r.user.id === target.user.id)?.relationship;
const sendRequest = (from: User, to: User, note?: string) =>
  api<{ request: FriendRequest }>(server.url, 'POST', '/friend-requests', {
    token: from.accessToken,
    body: { userId: to.user.id, ...(note !== undefined ? { note } : {}) },
  });
const requests = (user: User) =>
  api<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }>(server.url, 'GET', '/friend-requests', { token: user.accessToken });
const act = (user: User, id: string, action: 'accept' | 'reject' | 'cancel') =>
  api<{ request: FriendRequest; contact?: Contact }>(server.url, 'POST', `/friend-requests/${id}/${action}`, { token: user.accessToken });
const contacts = (user: User) => api<{ contacts: Contact[] }>(server.url, 'GET', '/contacts', { token: user.accessToken });

describe('search', () => {
  it('finds users by username and by display name, with the viewer\'s relationship', async () => {
    const tag = `srch${Date.now().toString(36)}`;
    const me = await registerUser(server.url, `${tag}me`);
    const friend = await registerUser(server.url, `${tag}fr`);
    const asked = await registerUser(server.url, `${tag}as`);
    const asker = await registerUser(server.url, `${tag}ak`);
    const stranger = await registerUser(server.url, `${tag}st`);
    await befriend(server.url, me, friend);
    expect((await sendRequest(me, asked)).status).toBe(201);
    expect((await sendRequest(asker, me)).status).toBe(201);

    const res = await search(me, tag);
    expect(res.status).toBe(200);
    const rel = Object.fromEntries(res.body.users.map((r) => [r.user.id, r.relationship]));
    expect(rel).toEqual({
      [me.user.id]: 'self',
      [friend.user.id]: 'friend',
      [asked.user.id]: 'request_sent',
      [asker.user.id]: 'request_received',
      [stranger.user.id]: 'none',
    });
    // Search results never carry private fields.
    expect(JSON.stringify(res.body)).not.toMatch(/password|hash/i);

    // By display name, case-insensitively.
    const named = await registerUser(server.url, 'dn');
    await api(server.url, 'PATCH', '/users/me', { token: named.accessToken, body: { displayName: `Zebra ${tag} Person` } });
    const byName = await search(me, `zebra ${tag.toUpperCase()}`);
    expect(byName.body.users.map((r) => r.user.id)).toEqual([named.user.id]);

    // LIKE wildcards are literal.
    const wild = await search(me, '%');
    expect(wild.status).toBe(200);
    expect(wild.body.users).toEqual([]);

    expectError(await api(server.url, 'GET', '/users/search?q=', { token: me.accessToken }), 400, 'VALIDATION_FAILED');
  });
});

describe('friend requests', () => {
  it('request with a note → incoming/outgoing lists → accept: both get friend.request and contact.added with the conversation', async () => {
    const a = await registerUser(server.url, 'fra');
    const b = await registerUser(server.url, 'frb');
    const aSocket = await connect(a);
    const bSocket = await connect(b);

    const sent = await sendRequest(a, b, '  Hi, it is A from work  ');
    expect(sent.status).toBe(201);
    expect(sent.body.request).toMatchObject({ status: 'pending', note: 'Hi, it is A from work', from: { id: a.user.id }, to: { id: b.user.id } });
    const id = sent.body.request.id;
    await bSocket.next('friend.request', (f) => f.request.id === id && f.request.status === 'pending');
    await aSocket.next('friend.request', (f) => f.request.id === id && f.request.status === 'pending');

    expect((await requests(b)).body.incoming.map((r) => r.id)).toEqual([id]);
    expect((await requests(b)).body.outgoing).toEqual([]);
    expect((await requests(a)).body.outgoing.map((r) => r.id)).toEqual([id]);
    expect((await requests(a)).body.incoming).toEqual([]);

    const accepted = await act(b, id, 'accept');
    expect(accepted.status).toBe(200);
    expect(accepted.body.request.status).toBe('accepted');
    const conversationId = accepted.body.contact!.conversationId;
    expect(conversationId).toEqual(expect.any(String));
    expect(accepted.body.contact!.user.id).toBe(a.user.id);

    await aSocket.next('friend.request', (f) => f.request.id === id && f.request.status === 'accepted');
    await bSocket.next('friend.request', (f) => f.request.id === id && f.request.status === 'accepted');
    const aAdded = await aSocket.next('contact.added');
    const bAdded = await bSocket.next('contact.added');
    expect(aAdded.contact).toMatchObject({ user: { id: b.user.id }, conversationId });
    expect(bAdded.contact).toMatchObject({ user: { id: a.user.id }, conversationId });
    // Both are online, and the contact says so.
    expect(aAdded.contact.presence.online).toBe(true);

    expect((await requests(b)).body.incoming).toEqual([]);
    expect((await contacts(a)).body.contacts.map((c) => [c.user.id, c.conversationId])).toEqual([[b.user.id, conversationId]]);
    expect((await contacts(b)).body.contacts.map((c) => [c.user.id, c.conversationId])).toEqual([[a.user.id, conversationId]]);
    // And they can talk.
    expect((await restSend(server, a, conversationId, 'hello friend')).status).toBe(201);
  });

  it('reject and cancel close the request for both sides', async () => {
    const a = await registerUser(server.url, 'rja');
    const b = await registerUser(server.url, 'rjb');
    const bSocket = await connect(b);
    const first = await sendRequest(a, b);
    const rejected = await act(b, first.body.request.id, 'reject');
    expect(rejected.status).toBe(200);
    expect(rejected.body.request.status).toBe('rejected');
    await bSocket.next('friend.request', (f) => f.request.id === first.body.request.id && f.request.status === 'rejected');
    expect((await requests(a)).body.outgoing).toEqual([]);
    expect(await relationshipTo(a, b)).toBe('none');

    // After a rejection a new request may be sent; then A withdraws it.
    const second = await sendRequest(a, b);
    expect(second.status).toBe(201);
    const cancelled = await act(a, second.body.request.id, 'cancel');
    expect(cancelled.body.request.status).toBe('cancelled');
    await bSocket.next('friend.request', (f) => f.request.id === second.body.request.id && f.request.status === 'cancelled');
    expect((await requests(b)).body.incoming).toEqual([]);
    expectError(await act(b, second.body.request.id, 'accept'), 409, 'FRIEND_REQUEST_NOT_PENDING');
  });

  it('refuses duplicates, requests to self, requests to friends, and unknown users', async () => {
    const a = await registerUser(server.url, 'dpa');
    const b = await registerUser(server.url, 'dpb');
    expect((await sendRequest(a, b)).status).toBe(201);
    expectError(await sendRequest(a, b), 409, 'FRIEND_REQUEST_EXISTS');
    expectError(await sendRequest(a, a), 400, 'CANNOT_TARGET_SELF');
    const unknown = await api(server.url, 'POST', '/friend-requests', {
      token: a.accessToken,
      body: { userId: '00000000-0000-0000-0000-000000000000' },
    });
    expectError(unknown, 404, 'USER_NOT_FOUND');

    const { a: f1, b: f2 } = await friends(server, 'af');
    expectError(await sendRequest(f1, f2), 409, 'ALREADY_FRIENDS');
    expectError(await sendRequest(f2, f1), 409, 'ALREADY_FRIENDS');
  });

  it('crossing requests: asking someone who already asked you accepts theirs', async () => {
    const a = await registerUser(server.url, 'cra');
    const b = await registerUser(server.url, 'crb');
    const aSocket = await connect(a);
    const first = await sendRequest(a, b);
    const crossing = await sendRequest(b, a);
    expect(crossing.status).toBe(201);
    expect(crossing.body.request).toMatchObject({ id: first.body.request.id, status: 'accepted' });
    await aSocket.next('contact.added', (f) => f.contact.user.id === b.user.id);
    expect(await relationshipTo(a, b)).toBe('friend');
    expect(await relationshipTo(b, a)).toBe('friend');
    expect((await requests(a)).body.outgoing).toEqual([]);
    expect((await requests(b)).body.incoming).toEqual([]);
  });

  it('only the recipient may accept (404 otherwise); accepting twice → 409 FRIEND_REQUEST_NOT_PENDING', async () => {
    const a = await registerUser(server.url, 'wra');
    const b = await registerUser(server.url, 'wrb');
    const c = await registerUser(server.url, 'wrc');
    const { body } = await sendRequest(a, b);
    const id = body.request.id;
    expectError(await act(c, id, 'accept'), 404, 'FRIEND_REQUEST_NOT_FOUND');
    // The sender cannot accept their own request, nor can the recipient cancel it.
    expectError(await act(a, id, 'accept'), 404, 'FRIEND_REQUEST_NOT_FOUND');
    expectError(await act(b, id, 'cancel'), 404, 'FRIEND_REQUEST_NOT_FOUND');
    expectError(await act(c, id, 'reject'), 404, 'FRIEND_REQUEST_NOT_FOUND');
    expect((await act(b, id, 'accept')).status).toBe(200);
    expectError(await act(b, id, 'accept'), 409, 'FRIEND_REQUEST_NOT_PENDING');
    expectError(await act(b, id, 'reject'), 409, 'FRIEND_REQUEST_NOT_PENDING');
    expectError(await act(b, 'no-such-request', 'accept'), 404, 'FRIEND_REQUEST_NOT_FOUND');
  });

  it('two crossing requests left pending by a race: accepting one settles the other', async () => {
    const a = await registerUser(server.url, 'xra');
    const b = await registerUser(server.url, 'xrb');
    const fromA = await sendRequest(a, b);
    // Simultaneous sends can both miss the other's request; write the second one the way that race would.
    const now = Date.now();
    await server.kkchat.platform.db
      .insertInto('friend_requests')
      .values({
        id: `race-${now}`,
        from_user_id: b.user.id,
        to_user_id: a.user.id,
        note: '',
        status: 'pending',
        pending_key: `${b.user.id}:${a.user.id}`,
        created_at: now,
        updated_at: now,
      })
      .execute();
    expect((await act(b, fromA.body.request.id, 'accept')).status).toBe(200);
    // The reverse request is no longer pending; accepting it is a clean 409, not a server error.
    expectError(await act(a, `race-${now}`, 'accept'), 409, 'FRIEND_REQUEST_NOT_PENDING');
    expect((await requests(a)).body).toEqual({ incoming: [], outgoing: [] });
    expect((await requests(b)).body).toEqual({ incoming: [], outgoing: [] });
    expect((await contacts(a)).body.contacts.map((c) => c.user.id)).toEqual([b.user.id]);
    expect((await contacts(b)).body.contacts.map((c) => c.user.id)).toEqual([a.user.id]);
  });

  it('concurrent accepts of one request: exactly one wins', async () => {
    const a = await registerUser(server.url, 'cca');
    const b = await registerUser(server.url, 'ccb');
    const { body } = await sendRequest(a, b);
    const results = await Promise.all([act(b, body.request.id, 'accept'), act(b, body.request.id, 'accept'), act(b, body.request.id, 'accept')]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect((await contacts(a)).body.contacts).toHaveLength(1);
  });
});

describe('removing a friend', () => {
  it('tells both sides, stops new messages (403 NOT_FRIENDS) and keeps history readable', async () => {
    const { a, b, conversationId } = await friends(server, 'rm');
    expect((await restSend(server, a, conversationId, 'before removal')).status).toBe(201);
    const aSocket = await connect(a);
    const bSocket = await connect(b);

    expect((await api(server.url, 'DELETE', `/contacts/${b.user.id}`, { token: a.accessToken })).status).toBe(204);
    await aSocket.next('contact.removed', (f) => f.userId === b.user.id);
    await bSocket.next('contact.removed', (f) => f.userId === a.user.id);
    expect((await contacts(a)).body.contacts).toEqual([]);
    expect((await contacts(b)).body.contacts).toEqual([]);

    expectError(await restSend(server, a, conversationId, 'after removal'), 403, 'NOT_FRIENDS');
    expectError(await restSend(server, b, conversationId, 'after removal'), 403, 'NOT_FRIENDS');
    aSocket.send({ type: 'send', rid: 'rm-1', conversationId, clientMsgId: 'rm-after', kind: 'text', text: 'ws after removal' });
    const frame = await aSocket.next('error', (f) => f.rid === 'rm-1');
    expect(frame.code).toBe('NOT_FRIENDS');

    for (const user of [a, b]) {
      const h = await history(server, user, conversationId);
      expect(h.status).toBe(200);
      expect(h.body.messages.map((m) => messageText(m))).toEqual(['before removal']);
    }
    expectError(await api(server.url, 'DELETE', `/contacts/${b.user.id}`, { token: a.accessToken }), 403, 'NOT_FRIENDS');

    // Becoming friends again reuses the conversation and its history.
    const again = await befriend(server.url, b, a);
    expect(again).toBe(conversationId);
    const next = await restSend(server, b, conversationId, 'friends again');
    expect(next.body.message.seq).toBe(2);
  });
});

describe('blocking', () => {
  it('blocks requests and messages both ways with distinct codes, withdraws pending requests, leaks nothing', async () => {
    const { a: blocker, b: blocked, conversationId } = await friends(server, 'bl');
    const pendingFrom = await registerUser(server.url, 'blp');
    const req = await sendRequest(pendingFrom, blocker);
    expect(req.status).toBe(201);
    const blockerSocket = await connect(blocker);

    expect((await api(server.url, 'PUT', `/blocks/${blocked.user.id}`, { token: blocker.accessToken })).status).toBe(204);
    expect((await api(server.url, 'PUT', `/blocks/${pendingFrom.user.id}`, { token: blocker.accessToken })).status).toBe(204);
    // Blocking twice is harmless.
    expect((await api(server.url, 'PUT', `/blocks/${blocked.user.id}`, { token: blocker.accessToken })).status).toBe(204);
    expectError(await api(server.url, 'PUT', `/blocks/${blocker.user.id}`, { token: blocker.accessToken }), 400, 'CANNOT_TARGET_SELF');

    // The pending request was withdrawn, and the blocker's devices were told.
    await blockerSocket.next('friend.request', (f) => f.request.id === req.body.request.id && f.request.status === 'cancelled');
    expect((await requests(blocker)).body.incoming).toEqual([]);
    expect((await requests(pendingFrom)).body.outgoing).toEqual([]);

    // Messages: the blocked user learns only BLOCKED_BY_USER; the blocker is told they blocked.
    expectError(await restSend(server, blocked, conversationId, 'let me in'), 403, 'BLOCKED_BY_USER');
    expectError(await restSend(server, blocker, conversationId, 'hmm'), 403, 'YOU_BLOCKED_USER');
    expectError(await sendRequest(pendingFrom, blocker), 403, 'BLOCKED_BY_USER');
    expectError(await sendRequest(blocker, pendingFrom), 403, 'YOU_BLOCKED_USER');

    // Relationship: the blocker sees 'blocked'; the blocked non-friend sees 'none', not 'blocked' or 'request_sent'.
    expect(await relationshipTo(blocker, blocked)).toBe('blocked');
    expect(await relationshipTo(blocker, pendingFrom)).toBe('blocked');
    expect(await relationshipTo(pendingFrom, blocker)).toBe('none');

    const list = await api<{ blocks: Block[] }>(server.url, 'GET', '/blocks', { token: blocker.accessToken });
    expect(list.body.blocks.map((b) => b.user.id).sort()).toEqual([blocked.user.id, pendingFrom.user.id].sort());
    expect((await api<{ blocks: Block[] }>(server.url, 'GET', '/blocks', { token: blocked.accessToken })).body.blocks).toEqual([]);

    // Nothing was stored.
    expect((await history(server, blocker, conversationId)).body.messages).toEqual([]);

    // Unblocking restores messaging.
    expect((await api(server.url, 'DELETE', `/blocks/${blocked.user.id}`, { token: blocker.accessToken })).status).toBe(204);
    expect((await restSend(server, blocked, conversationId, 'thanks')).status).toBe(201);
    expect((await restSend(server, blocker, conversationId, 'welcome')).status).toBe(201);
    expect(await relationshipTo(blocker, blocked)).toBe('friend');
    const after = await api<{ blocks: Block[] }>(server.url, 'GET', '/blocks', { token: blocker.accessToken });
    expect(after.body.blocks.map((b) => b.user.id)).toEqual([pendingFrom.user.id]);
  });

  it('a blocked user cannot get around the block with a crossing request', async () => {
    const blocker = await registerUser(server.url, 'bxa');
    const blocked = await registerUser(server.url, 'bxb');
    expect((await sendRequest(blocker, blocked)).status).toBe(201);
    // The blocker changes their mind before the other side answers.
    await api(server.url, 'PUT', `/blocks/${blocked.user.id}`, { token: blocker.accessToken });
    expectError(await sendRequest(blocked, blocker), 403, 'BLOCKED_BY_USER');
    expect((await contacts(blocker)).body.contacts).toEqual([]);
  });
});

describe('presence', () => {
  it('contacts show online/offline with lastSeenAt; friends get presence on first connect and last disconnect only', async () => {
    const { a, b } = await friends(server, 'pr');
    const aSocket = await connect(a);
    const before = (await contacts(a)).body.contacts[0]!;
    expect(before.presence).toEqual({ online: false, lastSeenAt: null });

    const b1 = await RawSocket.connect(server.wsUrl, b.accessToken);
    await aSocket.next('presence', (f) => f.userId === b.user.id && f.online);
    const b2 = await RawSocket.connect(server.wsUrl, b.accessToken);
    expect((await contacts(a)).body.contacts[0]!.presence.online).toBe(true);

    const open = server.kkchat.gateway.stats().connections;
    b1.close();
    await b1.waitClosed();
    // The server has dropped that socket; one device is left: still online, no offline event.
    await eventually(() => server.kkchat.gateway.stats().connections === open - 1);
    await pingPong(aSocket);
    expect(framesOf(aSocket, 'presence').filter((f) => f.userId === b.user.id && !f.online)).toEqual([]);
    expect((await contacts(a)).body.contacts[0]!.presence.online).toBe(true);

    b2.close();
    const offline = await aSocket.next('presence', (f) => f.userId === b.user.id && !f.online);
    expect(offline.lastSeenAt).toEqual(expect.any(Number));
    const after = (await contacts(a)).body.contacts[0]!;
    expect(after.presence.online).toBe(false);
    expect(after.presence.lastSeenAt).toBe(offline.lastSeenAt);

    const events = framesOf(aSocket, 'presence').filter((f) => f.userId === b.user.id);
    expect(events.map((f) => f.online)).toEqual([true, false]);
  });

  it('a blocked friend sees no presence or profile changes of the blocker', async () => {
    const { a, b } = await friends(server, 'bp');
    const aSocket = await connect(a);
    // b blocks a; the friendship row stays, but a must learn nothing more about b.
    expect((await api(server.url, 'PUT', `/blocks/${a.user.id}`, { token: b.accessToken })).status).toBe(204);
    const bSocket = await connect(b);
    await api(server.url, 'PATCH', '/users/me', { token: b.accessToken, body: { displayName: 'Renamed' } });
    bSocket.close();
    await bSocket.waitClosed();
    await eventually(async () => (await server.kkchat.platform.presence.online([b.user.id])).size === 0);
    await pingPong(aSocket);
    expect(framesOf(aSocket, 'presence').filter((f) => f.userId === b.user.id)).toEqual([]);
    expect(framesOf(aSocket, 'user.updated').filter((f) => f.user.id === b.user.id)).toEqual([]);

    const bAgain = await connect(b);
    await pingPong(bAgain);
    // Frozen at the block: offline, last seen no later than the block itself.
    const seenByA = (await contacts(a)).body.contacts.find((c) => c.user.id === b.user.id)!;
    const blockedAt = Number(
      (await server.kkchat.platform.db.selectFrom('blocks').select('created_at').where('blocker_id', '=', b.user.id).executeTakeFirstOrThrow())
        .created_at,
    );
    expect(seenByA.presence).toEqual({ online: false, lastSeenAt: blockedAt });
    // The blocker still sees the blocked friend's presence normally.
    const seenByB = (await contacts(b)).body.contacts.find((c) => c.user.id === a.user.id)!;
    expect(seenByB.presence.online).toBe(true);
  });

  it('a blocked friend gets no read receipts from the blocker; their own other devices still follow', async () => {
    const { a, b, conversationId } = await friends(server, 'brr');
    expect((await restSend(server, a, conversationId, 'one')).status).toBe(201);
    expect((await restSend(server, a, conversationId, 'two')).status).toBe(201);
    const aSocket = await connect(a);
    const bOther = await connect(b);
    const read = (seq: number) =>
      api(server.url, 'POST', `/conversations/${conversationId}/read`, { token: b.accessToken, body: { seq } });
    // Before the block a receipt reaches a.
    expect((await read(1)).status).toBe(200);
    await aSocket.next('read', (f) => f.userId === b.user.id && f.seq === 1);
    // b blocks a, then reads on: b's other device follows, a hears nothing.
    expect((await api(server.url, 'PUT', `/blocks/${a.user.id}`, { token: b.accessToken })).status).toBe(204);
    expect((await read(2)).status).toBe(200);
    await bOther.next('read', (f) => f.userId === b.user.id && f.seq === 2);
    await pingPong(aSocket);
    expect(framesOf(aSocket, 'read').map((f) => f.seq)).toEqual([1]);
  });

  it('a dead connection (no pongs) is dropped and shown offline within two heartbeats', async () => {
    const { a, b } = await friends(server, 'dd');
    const aSocket = await connect(a);
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(server.wsUrl, { autoPong: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let closed = false;
    ws.on('close', () => (closed = true));
    ws.send(JSON.stringify({ type: 'auth', token: b.accessToken }));
    await aSocket.next('presence', (f) => f.userId === b.user.id && f.online);
    expect((await contacts(a)).body.contacts[0]!.presence.online).toBe(true);

    // The client answers no pings (and sends nothing): the server terminates it.
    const offline = await aSocket.next('presence', (f) => f.userId === b.user.id && !f.online, 15_000);
    expect(offline.online).toBe(false);
    expect((await contacts(a)).body.contacts[0]!.presence.online).toBe(false);
    await eventually(() => closed);
    await pingPong(aSocket);
    expect(aSocket.closed).toBeNull();
  });

  it('a friend who is online when the friendship starts is reported online', async () => {
    const a = await registerUser(server.url, 'poa');
    const b = await registerUser(server.url, 'pob');
    const bSocket = await connect(b);
    await pingPong(bSocket);
    await befriend(server.url, a, b);
    const list = (await contacts(a)).body.contacts;
    expect(list.map((c) => [c.user.id, c.presence.online])).toEqual([[b.user.id, true]]);
  });
});
