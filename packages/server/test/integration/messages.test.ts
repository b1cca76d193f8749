import { messageText } from '@kkchat/protocol';
import type { ConversationSummary, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  expectError,
  framesOf,
  friends,
  history,
  nextRid,
  pingPong,
  RawSocket,
  range,
  registerUser,
  restSend,
  sleep,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startServer();
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

const conversations = (user: User) =>
  api<{ conversations: ConversationSummary[] }>(server.url, 'GET', '/conversations', { token: user.accessToken });
const summary = async (user: User, id: string) => (await conversations(user)).body.conversations.find((c) => c.id === id)!;

describe('sending over the WebSocket', () => {
  it('acks with a seq; the peer\'s devices and the sender\'s other devices get the message, the sending socket only the ack', async () => {
    const { a, b, conversationId } = await friends(server, 'snd');
    const a1 = await connect(a);
    const a2 = await connect(a);
    const b1 = await connect(b);
    const b2 = await connect(b);

    const ack = await wsSend(a1, conversationId, 'hello B', 'cm-1');
    expect(ack.type).toBe('ack');
    if (ack.type !== 'ack') return;
    expect(ack.duplicate).toBe(false);
    expect(ack.message).toMatchObject({ conversationId, seq: 1, senderId: a.user.id, clientMsgId: 'cm-1', kind: 'text', text: 'hello B' });

    for (const s of [a2, b1, b2]) {
      const frame = await s.next('message', (f) => f.message.clientMsgId === 'cm-1');
      expect(frame.message).toEqual(ack.message);
    }
    // The fan-out happens before the ack is written, so the sender's socket would already hold a copy.
    expect(framesOf(a1, 'message')).toEqual([]);

    const second = await wsSend(b2, conversationId, 'hello A');
    expect(second.type === 'ack' && second.message.seq).toBe(2);
    await a1.next('message', (f) => f.message.seq === 2);
  });

  it('assigns strictly increasing seqs without gaps, in the order one socket sent them', async () => {
    const { a, b, conversationId } = await friends(server, 'ord');
    const a1 = await connect(a);
    const b1 = await connect(b);
    const rids = range(1, 30).map((i) => {
      const rid = nextRid('o');
      a1.send({ type: 'send', rid, conversationId, clientMsgId: `ord-${i}`, kind: 'text', text: `m${i}` });
      return rid;
    });
    await a1.next('ack', (f) => f.rid === rids.at(-1));
    const acks = rids.map((rid) => framesOf(a1, 'ack').find((f) => f.rid === rid)!);
    expect(acks.map((f) => f.message.seq)).toEqual(range(1, 30));
    expect(acks.map((f) => messageText(f.message))).toEqual(range(1, 30).map((i) => `m${i}`));
    await b1.next('message', (f) => f.message.seq === 30);
    expect(framesOf(b1, 'message').map((f) => f.message.seq)).toEqual(range(1, 30));
  });

  it('accepts 4,000 astral emoji and refuses 4,001 (TEXT_TOO_LONG); blank text is TEXT_EMPTY', async () => {
    const { a, conversationId } = await friends(server, 'len');
    const a1 = await connect(a);
    const max = '😀'.repeat(4000);
    const ok = await wsSend(a1, conversationId, max);
    expect(ok.type).toBe('ack');
    expect(ok.type === 'ack' && messageText(ok.message)).toBe(max);

    const tooLong = await wsSend(a1, conversationId, '😀'.repeat(4001));
    expect(tooLong).toMatchObject({ type: 'error', code: 'TEXT_TOO_LONG' });
    expectError(await restSend(server, a, conversationId, '😀'.repeat(4001)), 400, 'TEXT_TOO_LONG');
    expectError(await restSend(server, a, conversationId, 'x'.repeat(4001)), 400, 'TEXT_TOO_LONG');
    expect((await restSend(server, a, conversationId, 'x'.repeat(4000))).status).toBe(201);

    for (const blank of ['', '   ', ' \n\t ']) {
      expect(await wsSend(a1, conversationId, blank)).toMatchObject({ type: 'error', code: 'TEXT_EMPTY' });
      expectError(await restSend(server, a, conversationId, blank), 400, 'TEXT_EMPTY');
    }
    // Only the two accepted messages were stored.
    const h = await history(server, a, conversationId);
    expect(h.body.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(messageText(h.body.messages[0]!)).toBe(max);
    // The socket is still fine.
    await pingPong(a1);
  });

  it('ignores a sender the client claims (BR-18): the sender is the token\'s user', async () => {
    const { a, b, conversationId } = await friends(server, 'spf');
    const a1 = await connect(a);
    const b1 = await connect(b);
    const ack = await wsSend(a1, conversationId, 'I am B, honest', 'spoof-1', { senderId: b.user.id, userId: b.user.id });
    expect(ack.type).toBe('ack');
    expect(ack.type === 'ack' && ack.message.senderId).toBe(a.user.id);
    const pushed = await b1.next('message', (f) => f.message.clientMsgId === 'spoof-1');
    expect(pushed.message.senderId).toBe(a.user.id);
    const res = await api<{ message: Message }>(server.url, 'POST', `/conversations/${conversationId}/messages`, {
      token: a.accessToken,
      body: { clientMsgId: 'spoof-2', kind: 'text', text: 'again', senderId: b.user.id },
    });
    expect(res.status).toBe(201);
    expect(res.body.message.senderId).toBe(a.user.id);
  });

  it('refuses another pair\'s conversation exactly like a missing one (BR-19)', async () => {
    const { a, conversationId } = await friends(server, 'idr');
    await restSend(server, a, conversationId, 'private');
    const mallory = await registerUser(server.url, 'mal');
    const m1 = await connect(mallory);
    const missing = '00000000-0000-4000-8000-000000000000';

    const wsTheirs = await wsSend(m1, conversationId, 'hi');
    const wsMissing = await wsSend(m1, missing, 'hi');
    expect(wsTheirs).toMatchObject({ type: 'error', code: 'CONVERSATION_NOT_FOUND' });
    expect(wsMissing).toMatchObject({ type: 'error', code: 'CONVERSATION_NOT_FOUND' });
    expect(wsTheirs.type === 'error' && wsTheirs.message).toBe(wsMissing.type === 'error' && wsMissing.message);

    const theirs = await restSend(server, mallory, conversationId, 'hi');
    const none = await restSend(server, mallory, missing, 'hi');
    expect(expectError(theirs, 404, 'CONVERSATION_NOT_FOUND')).toEqual(expectError(none, 404, 'CONVERSATION_NOT_FOUND'));
    for (const path of [`/conversations/${conversationId}`, `/conversations/${conversationId}/messages`]) {
      expectError(await api(server.url, 'GET', path, { token: mallory.accessToken }), 404, 'CONVERSATION_NOT_FOUND');
    }
    expectError(
      await api(server.url, 'POST', `/conversations/${conversationId}/read`, { token: mallory.accessToken, body: { seq: 1 } }),
      404,
      'CONVERSATION_NOT_FOUND',
    );
    m1.send({ type: 'read', rid: 'mr', conversationId, seq: 1 });
    expect((await m1.next('error', (f) => f.rid === 'mr')).code).toBe('CONVERSATION_NOT_FOUND');
    // Nothing was stored, and the conversation list shows nothing of it.
    expect((await history(server, a, conversationId)).body.lastSeq).toBe(1);
    expect((await conversations(mallory)).body.conversations).toEqual([]);
    // Opening a direct conversation with a non-friend is refused.
    expectError(
      await api(server.url, 'POST', '/conversations/direct', { token: mallory.accessToken, body: { userId: a.user.id } }),
      403,
      'NOT_FRIENDS',
    );
    const opened = await api<{ conversation: ConversationSummary }>(server.url, 'POST', '/conversations/direct', {
      token: a.accessToken,
      body: { userId: (await summary(a, conversationId)).peer!.id },
    });
    expect(opened.body.conversation.id).toBe(conversationId);
  });
});

describe('conversation list', () => {
  it('lists the newest activity first, with the peer, last message and unread count', async () => {
    const me = await registerUser(server.url, 'cl');
    const p1 = await registerUser(server.url, 'clp');
    const p2 = await registerUser(server.url, 'clq');
    const { befriend } = await import('../support/raw-client.js');
    const c1 = await befriend(server.url, me, p1);
    const c2 = await befriend(server.url, me, p2);
    // Activity is ordered by millisecond timestamps; space the sends so none share one.
    await restSend(server, p1, c1, 'one');
    await sleep(5);
    await restSend(server, p2, c2, 'two');
    await restSend(server, p2, c2, 'three');
    let list = (await conversations(me)).body.conversations;
    expect(list.map((c) => [c.id, c.peer?.id, c.unreadCount, c.lastMessage && messageText(c.lastMessage)])).toEqual([
      [c2, p2.user.id, 2, 'three'],
      [c1, p1.user.id, 1, 'one'],
    ]);
    await sleep(5);
    await restSend(server, p1, c1, 'four');
    list = (await conversations(me)).body.conversations;
    expect(list.map((c) => c.id)).toEqual([c1, c2]);
    const one = await api<{ conversation: ConversationSummary }>(server.url, 'GET', `/conversations/${c1}`, { token: me.accessToken });
    expect(one.body.conversation).toMatchObject({ id: c1, kind: 'direct', lastSeq: 2, unreadCount: 2 });
    expectError(
      await api(server.url, 'POST', '/conversations/direct', { token: me.accessToken, body: { userId: me.user.id } }),
      400,
      'CANNOT_TARGET_SELF',
    );
  });
});

describe('idempotent retries (BR-03)', () => {
  it('a retry after a lost ack returns the original over WS and REST; a different text conflicts; a new id is the next seq', async () => {
    const { a, b, conversationId } = await friends(server, 'idm');
    for (let i = 1; i <= 6; i++) await restSend(server, a, conversationId, `warm-up ${i}`);
    const b1 = await connect(b);

    // 1. The frame goes out and the socket dies before A can read the reply.
    const lost = await RawSocket.open(server.wsUrl);
    lost.send({ type: 'auth', token: a.accessToken });
    await lost.next('auth.ok');
    await new Promise<void>((resolve) => {
      lost.ws.send(JSON.stringify({ type: 'send', rid: 'x', conversationId, clientMsgId: 'c-0001', kind: 'text', text: 'hello' }), () => {
        lost.ws.terminate();
        resolve();
      });
    });
    const delivered = await b1.next('message', (f) => f.message.clientMsgId === 'c-0001');
    expect(delivered.message.seq).toBe(7);

    // 2. Reconnect and send the identical frame.
    const a1 = await connect(a);
    const retry = await wsSend(a1, conversationId, 'hello', 'c-0001');
    expect(retry).toMatchObject({ type: 'ack', duplicate: true, message: { id: delivered.message.id, seq: 7, text: 'hello' } });

    // 3. The same id once more over REST: 200 (not 201), the original.
    const rest = await restSend(server, a, conversationId, 'hello', 'c-0001');
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ duplicate: true, message: { id: delivered.message.id, seq: 7 } });

    // 4. The same id with a different text is a conflict.
    const changed = await wsSend(a1, conversationId, 'hello!', 'c-0001');
    expect(changed).toMatchObject({ type: 'error', code: 'CLIENT_MSG_ID_CONFLICT' });
    expectError(await restSend(server, a, conversationId, 'hello!', 'c-0001'), 409, 'CLIENT_MSG_ID_CONFLICT');

    // 5. A genuine second message.
    const next = await wsSend(a1, conversationId, 'hello', 'c-0002');
    expect(next).toMatchObject({ type: 'ack', duplicate: false, message: { seq: 8 } });

    // B got "hello" once; history holds it once; no seq was used by the retries.
    await b1.next('message', (f) => f.message.clientMsgId === 'c-0002');
    expect(framesOf(b1, 'message').map((f) => f.message.clientMsgId)).toEqual(['c-0001', 'c-0002']);
    const h = await history(server, b, conversationId);
    expect(h.body.messages.map((m) => m.seq)).toEqual(range(1, 8));
    expect(h.body.messages.filter((m) => m.clientMsgId === 'c-0001')).toHaveLength(1);
    expect(h.body.lastSeq).toBe(8);
  });

  it('the same client id sent twice at once is stored once', async () => {
    const { a, b, conversationId } = await friends(server, 'race');
    const results = await Promise.all(range(1, 5).map(() => restSend(server, a, conversationId, 'once', 'race-1')));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.message.id)).size).toBe(1);
    expect((await history(server, b, conversationId)).body.messages).toHaveLength(1);
  });

  it('client message ids belong to their sender: the same id from the peer is a new message', async () => {
    const { a, b, conversationId } = await friends(server, 'own');
    expect((await restSend(server, a, conversationId, 'from a', 'shared-id')).status).toBe(201);
    const fromB = await restSend(server, b, conversationId, 'from b', 'shared-id');
    expect(fromB.status).toBe(201);
    expect(fromB.body).toMatchObject({ duplicate: false, message: { seq: 2, senderId: b.user.id, text: 'from b' } });
  });
});

describe('concurrent sends (BR-06)', () => {
  it('100 parallel sends from both users over WS and REST get unique seqs 1..100 and full history', async () => {
    const { a, b, conversationId } = await friends(server, 'par');
    const a1 = await connect(a);
    const b1 = await connect(b);
    const sends: Promise<number>[] = [];
    for (let i = 0; i < 25; i++) {
      for (const [user, socket] of [[a, a1], [b, b1]] as const) {
        sends.push(wsSend(socket, conversationId, `ws ${user.user.username} ${i}`).then((f) => (f.type === 'ack' ? f.message.seq : -1)));
        sends.push(restSend(server, user, conversationId, `rest ${user.user.username} ${i}`).then((r) => (r.status === 201 ? r.body.message.seq : -1)));
      }
    }
    const seqs = await Promise.all(sends);
    expect([...seqs].sort((x, y) => x - y)).toEqual(range(1, 100));

    const h = await history(server, b, conversationId, 'after=0&limit=100');
    expect(h.body.messages.map((m) => m.seq)).toEqual(range(1, 100));
    expect(h.body.hasMore).toBe(false);
    expect(new Set(h.body.messages.map((m) => messageText(m))).size).toBe(100);

    // B's socket saw every message A sent (pushes carry their seq, so a client can order and gap-check them).
    const fromA = h.body.messages.filter((m) => m.senderId === a.user.id).map((m) => m.seq);
    await b1.next('message', (f) => f.message.seq === Math.max(...fromA));
    await pingPong(b1);
    const pushed = framesOf(b1, 'message').map((f) => f.message.seq);
    expect(pushed.filter((s) => fromA.includes(s)).sort((x, y) => x - y)).toEqual(fromA);
    // B's own WS sends were acked, not echoed; its REST sends were pushed to its socket.
    const bWs = h.body.messages.filter((m) => m.senderId === b.user.id && messageText(m).startsWith('ws ')).map((m) => m.seq);
    expect(pushed.filter((s) => bWs.includes(s))).toEqual([]);
  });
});

describe('read cursors', () => {
  it('mark read over WS and REST: read.ok, read events to own other devices and the peer, unread counts, no moving backwards', async () => {
    const { a, b, conversationId } = await friends(server, 'rd');
    for (let i = 1; i <= 3; i++) await restSend(server, a, conversationId, `m${i}`);
    const a1 = await connect(a);
    const b1 = await connect(b);
    const b2 = await connect(b);

    let bView = await summary(b, conversationId);
    expect(bView).toMatchObject({ lastSeq: 3, readSeq: 0, unreadCount: 3, peerReadSeq: 3, lastMessage: { seq: 3, text: 'm3' } });
    let aView = await summary(a, conversationId);
    expect(aView).toMatchObject({ lastSeq: 3, readSeq: 3, unreadCount: 0, peerReadSeq: 0, peer: { id: b.user.id } });

    b1.send({ type: 'read', rid: 'r1', conversationId, seq: 2 });
    const ok = await b1.next('read.ok', (f) => f.rid === 'r1');
    expect(ok).toMatchObject({ conversationId, readSeq: 2 });
    expect((await b2.next('read', (f) => f.conversationId === conversationId)).seq).toBe(2);
    expect(await a1.next('read', (f) => f.conversationId === conversationId)).toMatchObject({ userId: b.user.id, seq: 2 });
    await pingPong(b1);
    expect(framesOf(b1, 'read')).toEqual([]);

    bView = await summary(b, conversationId);
    expect(bView).toMatchObject({ readSeq: 2, unreadCount: 1 });
    aView = await summary(a, conversationId);
    expect(aView.peerReadSeq).toBe(2);

    // Backwards is a no-op: the cursor stays, nobody is told.
    const back = await api<{ readSeq: number; unreadCount: number }>(server.url, 'POST', `/conversations/${conversationId}/read`, {
      token: b.accessToken,
      body: { seq: 1 },
    });
    expect(back.status).toBe(200);
    expect(back.body).toEqual({ readSeq: 2, unreadCount: 1 });
    b1.send({ type: 'read', rid: 'r2', conversationId, seq: 0 });
    expect((await b1.next('read.ok', (f) => f.rid === 'r2')).readSeq).toBe(2);

    const all = await api<{ readSeq: number; unreadCount: number }>(server.url, 'POST', `/conversations/${conversationId}/read`, {
      token: b.accessToken,
      body: { seq: 3 },
    });
    expect(all.body).toEqual({ readSeq: 3, unreadCount: 0 });
    // A REST read reaches every device of the reader, and the peer.
    await b1.next('read', (f) => f.seq === 3);
    await b2.next('read', (f) => f.seq === 3);
    await a1.next('read', (f) => f.seq === 3);
    expect(framesOf(a1, 'read').map((f) => f.seq)).toEqual([2, 3]);
    expect((await summary(b, conversationId)).unreadCount).toBe(0);

    // Beyond the end of the conversation.
    expectError(
      await api(server.url, 'POST', `/conversations/${conversationId}/read`, { token: b.accessToken, body: { seq: 4 } }),
      400,
      'SEQ_OUT_OF_RANGE',
    );
    b1.send({ type: 'read', rid: 'r3', conversationId, seq: 99 });
    expect((await b1.next('error', (f) => f.rid === 'r3')).code).toBe('SEQ_OUT_OF_RANGE');
    expect((await summary(b, conversationId)).readSeq).toBe(3);
  });

  it('a sender\'s own messages never count as unread, and sending moves their cursor', async () => {
    const { a, b, conversationId } = await friends(server, 'ur');
    await restSend(server, b, conversationId, 'from b');
    await restSend(server, a, conversationId, 'from a');
    expect(await summary(a, conversationId)).toMatchObject({ readSeq: 2, unreadCount: 0 });
    expect(await summary(b, conversationId)).toMatchObject({ readSeq: 1, unreadCount: 1, lastMessage: { text: 'from a' } });
  });
});

describe('typing', () => {
  it('is relayed to the peer only and not stored', async () => {
    const { a, b, conversationId } = await friends(server, 'ty');
    const a1 = await connect(a);
    const a2 = await connect(a);
    const b1 = await connect(b);
    a1.send({ type: 'typing', conversationId });
    expect(await b1.next('typing')).toMatchObject({ conversationId, userId: a.user.id });
    await pingPong(a1);
    await pingPong(a2);
    expect(framesOf(a1, 'typing')).toEqual([]);
    expect(framesOf(a2, 'typing')).toEqual([]);
    const h = await history(server, a, conversationId);
    expect(h.body).toMatchObject({ messages: [], lastSeq: 0 });
  });

  it('stops when the friendship ends', async () => {
    const { a, b, conversationId } = await friends(server, 'tyr');
    const a1 = await connect(a);
    const b1 = await connect(b);
    expect((await api(server.url, 'DELETE', `/contacts/${b.user.id}`, { token: a.accessToken })).status).toBe(204);
    await b1.next('contact.removed');
    a1.send({ type: 'typing', conversationId });
    b1.send({ type: 'typing', conversationId });
    await pingPong(a1);
    await pingPong(b1);
    await sleep(200);
    await pingPong(b1);
    expect(framesOf(b1, 'typing')).toEqual([]);
    expect(framesOf(a1, 'typing')).toEqual([]);
  });

  it('is dropped between blocked users, and refused for a conversation one is not in', async () => {
    const { a, b, conversationId } = await friends(server, 'tyb');
    const a1 = await connect(a);
    const b1 = await connect(b);
    await api(server.url, 'PUT', `/blocks/${a.user.id}`, { token: b.accessToken });
    a1.send({ type: 'typing', conversationId });
    b1.send({ type: 'typing', conversationId });
    await pingPong(a1);
    await pingPong(b1);
    // Give the relays time to have happened, if they were going to.
    await sleep(200);
    await pingPong(a1);
    expect(framesOf(b1, 'typing')).toEqual([]);
    expect(framesOf(a1, 'typing')).toEqual([]);

    const stranger = await registerUser(server.url, 'tys');
    const s1 = await connect(stranger);
    s1.send({ type: 'typing', conversationId });
    expect((await s1.next('error')).code).toBe('CONVERSATION_NOT_FOUND');
  });
});

describe('send rate limit (BR-33)', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ KKCHAT_SEND_MAX_PER_10S: '5' });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('is per user across WS and REST; refused sends are not stored and use no seq', async () => {
    const { a, b, conversationId } = await friends(limited, 'rl');
    const a1 = await RawSocket.connect(limited.wsUrl, a.accessToken);
    for (let i = 1; i <= 3; i++) expect((await wsSend(a1, conversationId, `ws ${i}`, `rl-ws-${i}`)).type).toBe('ack');
    for (let i = 1; i <= 2; i++) expect((await restSend(limited, a, conversationId, `rest ${i}`, `rl-rest-${i}`)).status).toBe(201);

    const viaRest = await restSend(limited, a, conversationId, 'one too many');
    const error = expectError(viaRest, 429, 'RATE_LIMITED');
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(Number(viaRest.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const viaWs = await wsSend(a1, conversationId, 'one too many');
    expect(viaWs).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    expect(viaWs.type === 'error' && viaWs.retryAfterMs).toBeGreaterThan(0);

    // A retry of an already-stored message is not a new send: it still gets its ack.
    expect(await wsSend(a1, conversationId, 'ws 1', 'rl-ws-1')).toMatchObject({ type: 'ack', duplicate: true });

    // Other users are not affected, and the next seq follows the last stored message.
    const fromB = await restSend(limited, b, conversationId, 'b is fine');
    expect(fromB.status).toBe(201);
    expect(fromB.body.message.seq).toBe(6);
    const h = await history(limited, b, conversationId);
    expect(h.body.messages.map((m) => m.seq)).toEqual(range(1, 6));
    expect(h.body.messages.some((m) => messageText(m) === 'one too many')).toBe(false);
    a1.close();
  });
});
