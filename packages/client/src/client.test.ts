import { messageText } from '@kkchat/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '@kkchat/protocol';
import { KKChatClient } from './client.js';
import type { ClientEvents } from './options.js';
import type { ConnectionState } from './realtime.js';
import type { OutboxEntry } from './outbox.js';
import { FakeServer } from './testing/fake-server.js';
import { memoryNetwork, type MemoryNetwork } from './testing/memory-socket.js';
import { sleep } from './testing/factories.js';

const clients: KKChatClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

/** A client wired to the fake server, recording what it emits. */
function makeClient(server: FakeServer, network: MemoryNetwork, opts: { ackTimeoutMs?: number; reconnect?: { minDelayMs: number; maxDelayMs: number } } = {}) {
  const client = new KKChatClient({
    baseUrl: 'http://127.0.0.1:8080',
    fetch: server.fetch as typeof fetch,
    WebSocket: network.WebSocket,
    reconnect: opts.reconnect ?? { minDelayMs: 2, maxDelayMs: 10 },
    ackTimeoutMs: opts.ackTimeoutMs ?? 5_000,
    gapFillDelayMs: 0,
  });
  clients.push(client);
  const events = {
    messages: [] as Message[],
    states: [] as ConnectionState[],
    outbox: [] as OutboxEntry[],
    errors: [] as unknown[],
    all: [] as Array<[keyof ClientEvents, unknown]>,
  };
  client.on('message', (m) => events.messages.push(m));
  client.on('state', (s) => events.states.push(s));
  client.on('outbox', (e) => events.outbox.push(e));
  client.on('error', (e) => events.errors.push(e));
  for (const name of ['read', 'typing', 'synced', 'conversations', 'session.revoked', 'auth.expired'] as const) {
    client.on(name, (payload) => events.all.push([name, payload]));
  }
  const seqs = (conversationId: string) => events.messages.filter((m) => m.conversationId === conversationId).map((m) => m.seq);
  return { client, events, seqs };
}

async function world(opts: { ackTimeoutMs?: number; reconnect?: { minDelayMs: number; maxDelayMs: number } } = {}) {
  const server = new FakeServer();
  const network = memoryNetwork(server);
  const alice = server.addUser('alice');
  const bob = server.addUser('bob');
  const conversationId = server.createDirect(alice.id, bob.id);
  const a = makeClient(server, network, opts);
  const b = makeClient(server, network, opts);
  await a.client.auth.login({ username: 'alice', password: 'password123' });
  await b.client.auth.login({ username: 'bob', password: 'password123' });
  return { server, network, alice, bob, conversationId, a, b };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('KKChatClient connection', () => {
  it('connects through connecting -> authenticating -> syncing -> online and emits the conversation list', async () => {
    const w = await world();
    expect(w.a.client.state).toBe('idle');
    expect(w.a.client.user?.username).toBe('alice');
    await w.a.client.connect();
    expect(w.a.events.states).toEqual(['connecting', 'authenticating', 'syncing', 'online']);
    const names = w.a.events.all.map(([name]) => name);
    expect(names).toEqual(['conversations', 'synced']);
    const [, list] = w.a.events.all[0] as [string, Array<{ id: string }>];
    expect(list.map((c) => c.id)).toEqual([w.conversationId]);
    const auth = w.server.frames[0]?.frame;
    expect(auth).toEqual({ type: 'auth', token: w.a.client.accessToken });
    expect(w.network.sockets[0]?.url).toBe('ws://127.0.0.1:8080/ws');
  });

  it('disconnect() then connect() during the token fetch opens exactly one socket', async () => {
    const w = await world();
    // Tokens this short-lived look stale to the client, so connecting starts with an (async) refresh.
    w.server.accessTokenTtlMs = 3_000;
    await w.a.client.auth.refresh();
    const first = w.a.client.connect();
    w.a.client.disconnect();
    await expect(first).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await w.a.client.connect();
    await sleep(20);
    expect(w.network.sockets).toHaveLength(1);
    expect(w.server.connections.size).toBe(1);
  });

  it('ignores frame types it does not know, and reports malformed frames without dropping the socket', async () => {
    const w = await world();
    await w.a.client.connect();
    const transport = w.network.sockets[0]?.conn?.transport;
    transport?.send(JSON.stringify({ type: 'reaction.added', emoji: 'x' }));
    transport?.send(JSON.stringify({ type: 'message', message: { seq: 'one' } }));
    transport?.send('not json');
    await vi.waitFor(() => expect(w.a.events.errors).toHaveLength(2));
    expect(w.a.events.errors).toEqual([
      expect.objectContaining({ code: 'BAD_RESPONSE' }),
      expect.objectContaining({ code: 'BAD_RESPONSE' }),
    ]);
    expect(w.a.client.state).toBe('online');
    expect(w.a.events.messages).toEqual([]);
  });

  it('connect() rejects when nobody is signed in', async () => {
    const server = new FakeServer();
    const { client } = makeClient(server, memoryNetwork(server));
    await expect(client.connect()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(client.state).toBe('closed');
  });

  it('reconnects with backoff after the socket drops and catches up on what it missed', async () => {
    const w = await world();
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.b.client.trackConversation(w.conversationId, 0);
    await w.a.client.sendAndWait(w.conversationId, 'one');
    await vi.waitFor(() => expect(w.b.seqs(w.conversationId)).toEqual([1]));
    w.network.down = true;
    w.server.closeAll(1001, 'restart', w.bob.id);
    await vi.waitFor(() => expect(w.b.client.state).toBe('reconnecting'));
    await w.a.client.sendAndWait(w.conversationId, 'two');
    await w.a.client.sendAndWait(w.conversationId, 'three');
    w.network.down = false;
    await vi.waitFor(() => expect(w.b.client.state).toBe('online'));
    expect(w.b.seqs(w.conversationId)).toEqual([1, 2, 3]);
    expect(w.b.events.states).toContain('reconnecting');
    const historyCalls = w.server.requests.filter((r) => r.path.endsWith('/messages'));
    expect(historyCalls.length).toBeGreaterThan(0);
  });

  it('SERVER_DRAINING (4010) reconnects at once, without the backoff, and catches up', async () => {
    // A backoff this long would make the test time out if the client waited for it.
    const w = await world({ reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.b.client.trackConversation(w.conversationId, 0);
    for (let round = 0; round < 3; round++) {
      w.server.closeAll(4010, 'server draining; reconnect now', w.bob.id);
      await w.a.client.sendAndWait(w.conversationId, `drained ${round}`);
      await vi.waitFor(() => expect(w.b.seqs(w.conversationId)).toEqual(range(1, round + 1)), { timeout: 2000 });
      await vi.waitFor(() => expect(w.b.client.state).toBe('online'), { timeout: 2000 });
    }
    expect(w.b.events.states).toContain('reconnecting');
  });

  it('a lost push is noticed at the next message and pulled', async () => {
    const w = await world();
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.b.client.trackConversation(w.conversationId, 0);
    let drop = true;
    w.server.deliverPush = (frame) => !(drop && frame.type === 'message');
    await w.a.client.sendAndWait(w.conversationId, 'lost');
    drop = false;
    await w.a.client.sendAndWait(w.conversationId, 'arrives');
    await vi.waitFor(() => expect(w.b.seqs(w.conversationId)).toEqual([1, 2]));
    expect(w.b.events.messages.map((m) => messageText(m))).toEqual(['lost', 'arrives']);
  });

  it('emits and starts tracking a message of an untracked conversation', async () => {
    const w = await world();
    await w.b.client.connect();
    w.server.postMessage(w.conversationId, w.alice.id, 'first', false);
    w.server.postMessage(w.conversationId, w.alice.id, 'second');
    await vi.waitFor(() => expect(w.b.seqs(w.conversationId)).toEqual([2]));
    expect(w.b.client.cursor(w.conversationId)).toBe(2);
  });

  it('SESSION_REVOKED closes for good and reports it', async () => {
    const w = await world();
    await w.a.client.connect();
    const sessionId = w.network.sockets[0]?.conn?.sessionId as string;
    w.server.revokeSession(sessionId);
    await vi.waitFor(() => expect(w.a.client.state).toBe('closed'));
    expect(w.a.events.all.at(-1)).toEqual(['session.revoked', { code: 4003, reason: 'session revoked' }]);
    expect(w.a.client.accessToken).toBeNull();
    await sleep(30);
    expect(w.network.sockets).toHaveLength(1); // no reconnect
  });

  it('AUTH_FAILED (4002) refreshes the token and reconnects', async () => {
    const w = await world();
    await w.a.client.connect();
    const before = w.a.client.accessToken;
    w.server.expireAccessTokens();
    w.server.closeAll(4002, 'token expired');
    await vi.waitFor(() => expect(w.network.sockets.length).toBe(2));
    await vi.waitFor(() => expect(w.a.client.state).toBe('online'));
    expect(w.a.client.accessToken).not.toBe(before);
    expect(w.server.requests.filter((r) => r.path === '/auth/refresh')).toHaveLength(1);
  });

  it('emits auth.expired and closes when the refresh is refused', async () => {
    const w = await world();
    await w.a.client.connect();
    const sessionId = w.network.sockets[0]?.conn?.sessionId as string;
    // The refresh token dies without the socket noticing; then the server refuses the access token.
    w.server.intercept = (method, path) =>
      path === '/auth/refresh'
        ? new Response(JSON.stringify({ error: { code: 'REFRESH_TOKEN_INVALID', message: 'no' } }), { status: 401 })
        : undefined;
    w.server.closeAll(4002, 'token expired');
    await vi.waitFor(() => expect(w.a.client.state).toBe('closed'));
    expect(w.a.events.all.map(([name]) => name)).toContain('auth.expired');
    expect(w.a.client.user).toBeNull();
    expect(sessionId).toBeTruthy();
  });

  it('a silent socket is declared dead after 2x heartbeat and replaced', async () => {
    const w = await world();
    // Short, but not so short that a busy machine's event-loop stall looks like a dead socket too.
    w.server.heartbeatMs = 100;
    await w.a.client.connect();
    const first = w.network.sockets[0];
    if (first?.conn) first.conn.blackholed = true;
    await vi.waitFor(() => expect(w.network.sockets.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    await vi.waitFor(() => expect(w.a.client.state).toBe('online'), { timeout: 5000 });
    const pings = w.server.frames.filter((f) => f.frame.type === 'ping');
    expect(pings.length).toBeGreaterThan(0);
  });
});

describe('KKChatClient outbox', () => {
  it('sendAndWait resolves with the stored message; the sender sees it once as a message and the outbox empties', async () => {
    const w = await world();
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.a.client.trackConversation(w.conversationId, 0);
    const message = await w.a.client.sendAndWait(w.conversationId, 'hello');
    expect(message).toMatchObject({ seq: 1, text: 'hello', senderId: w.alice.id });
    expect(w.a.seqs(w.conversationId)).toEqual([1]);
    expect(w.a.client.outbox()).toEqual([]);
    expect(w.a.events.outbox.map((e) => e.state)).toEqual(['sending', 'sent']);
    await vi.waitFor(() => expect(w.b.seqs(w.conversationId)).toEqual([1]));
  });

  it('validates text before queuing', async () => {
    const w = await world();
    expect(() => w.a.client.sendText(w.conversationId, '   ')).toThrow(expect.objectContaining({ code: 'TEXT_EMPTY' }));
    expect(() => w.a.client.sendText(w.conversationId, 'x'.repeat(4001))).toThrow(
      expect.objectContaining({ code: 'TEXT_TOO_LONG' }),
    );
    expect(w.a.client.outbox()).toEqual([]);
  });

  it('messages queued while offline go out in order after connect', async () => {
    const w = await world();
    const entries = ['1', '2', '3', '4'].map((text) => w.a.client.sendText(w.conversationId, text));
    expect(entries.every((e) => e.state === 'sending')).toBe(true);
    await w.a.client.connect();
    await vi.waitFor(() => expect(w.a.client.outbox()).toEqual([]));
    expect(w.server.messages(w.conversationId).map((m) => messageText(m))).toEqual(['1', '2', '3', '4']);
  });

  it('a lost ack is retried with the same clientMsgId and stored once', async () => {
    const w = await world({ ackTimeoutMs: 20 });
    await w.a.client.connect();
    let loseAck = true;
    w.server.onSend = () => (loseAck ? ((loseAck = false), 'store-no-ack') : undefined);
    const message = await w.a.client.sendAndWait(w.conversationId, 'once');
    const sends = w.server.frames.filter((f) => f.frame.type === 'send');
    expect(sends.length).toBeGreaterThanOrEqual(2); // more if the machine is slow: all carry the same id
    expect(new Set(sends.map((f) => (f.frame as { clientMsgId: string }).clientMsgId)).size).toBe(1);
    expect(w.server.messages(w.conversationId)).toHaveLength(1);
    expect(message.seq).toBe(1);
  });

  it('a send cut off by a dropped socket is settled after reconnect, without a second copy', async () => {
    const w = await world();
    await w.a.client.connect();
    w.a.client.trackConversation(w.conversationId, 0);
    w.server.onSend = (_frame, conn) => {
      // The server stores the message, then the connection dies before the ack.
      setTimeout(() => w.server.closeConnection(conn, 1006, ''), 0);
      return 'store-no-ack';
    };
    const pending = w.a.client.sendAndWait(w.conversationId, 'survives');
    await vi.waitFor(() => expect(w.network.sockets.length).toBe(2));
    w.server.onSend = () => undefined;
    await expect(pending).resolves.toMatchObject({ seq: 1, text: 'survives' });
    expect(w.server.messages(w.conversationId)).toHaveLength(1);
    expect(w.a.seqs(w.conversationId)).toEqual([1]);
  });

  it('a permanent refusal marks the entry failed; retry() sends it again with the same id', async () => {
    const w = await world();
    await w.a.client.connect();
    w.server.onSend = () => ({ error: { code: 'NOT_FRIENDS' } });
    const entry = w.a.client.sendText(w.conversationId, 'hi');
    await vi.waitFor(() => expect(w.a.client.outbox()[0]?.state).toBe('failed'));
    expect(w.a.client.outbox()[0]?.error?.code).toBe('NOT_FRIENDS');
    w.server.onSend = () => undefined;
    w.a.client.retry(entry.clientMsgId);
    await vi.waitFor(() => expect(w.a.client.outbox()).toEqual([]));
    const stored = w.server.messages(w.conversationId);
    expect(stored.map((m) => m.clientMsgId)).toEqual([entry.clientMsgId]);
    expect(w.a.events.errors).toEqual([]);
  });

  it('RATE_LIMITED waits retryAfterMs and keeps the order', async () => {
    const w = await world();
    await w.a.client.connect();
    let limited = 1;
    w.server.onSend = () => (limited-- > 0 ? { error: { code: 'RATE_LIMITED', retryAfterMs: 15 } } : undefined);
    w.a.client.sendText(w.conversationId, 'a');
    w.a.client.sendText(w.conversationId, 'b');
    await vi.waitFor(() => expect(w.a.client.outbox()).toEqual([]));
    expect(w.server.messages(w.conversationId).map((m) => messageText(m))).toEqual(['a', 'b']);
  });
});

describe('KKChatClient requests over the socket', () => {
  it('markRead goes over the socket when online and over REST otherwise', async () => {
    const w = await world();
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.b.client.trackConversation(w.conversationId, 0);
    await w.a.client.sendAndWait(w.conversationId, 'x');
    await vi.waitFor(() => expect(w.b.seqs(w.conversationId)).toEqual([1]));
    await expect(w.b.client.conversations.markRead(w.conversationId, 1)).resolves.toEqual({ readSeq: 1, unreadCount: 0 });
    expect(w.server.frames.some((f) => f.frame.type === 'read')).toBe(true);
    await vi.waitFor(() => expect(w.a.events.all).toContainEqual(['read', { conversationId: w.conversationId, userId: w.bob.id, seq: 1 }]));
    w.b.client.disconnect();
    await w.a.client.sendAndWait(w.conversationId, 'y');
    await expect(w.b.client.conversations.markRead(w.conversationId, 1)).resolves.toEqual({ readSeq: 1, unreadCount: 1 });
    expect(w.server.requests.some((r) => r.path.endsWith('/read'))).toBe(true);
  });

  it('typing is throttled per conversation and dropped when offline', async () => {
    const w = await world();
    w.a.client.typing(w.conversationId);
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.a.client.typing(w.conversationId);
    w.a.client.typing(w.conversationId);
    await vi.waitFor(() => expect(w.b.events.all.filter(([n]) => n === 'typing')).toHaveLength(1));
    await sleep(10);
    expect(w.server.frames.filter((f) => f.frame.type === 'typing')).toHaveLength(1);
  });

  it('REST calls refresh an expired access token and retry', async () => {
    const w = await world();
    const before = w.a.client.accessToken;
    w.server.expireAccessTokens();
    await expect(w.a.client.users.me()).resolves.toMatchObject({ username: 'alice' });
    expect(w.a.client.accessToken).not.toBe(before);
  });

  it('sendViaRest feeds the sync cursor like a live message', async () => {
    const w = await world();
    w.a.client.trackConversation(w.conversationId, 0);
    const res = await w.a.client.conversations.sendViaRest(w.conversationId, { clientMsgId: 'rest-1', kind: 'text', text: 'hi' });
    expect(res.duplicate).toBe(false);
    expect(w.a.seqs(w.conversationId)).toEqual([1]);
    const again = await w.a.client.conversations.sendViaRest(w.conversationId, { clientMsgId: 'rest-1', kind: 'text', text: 'hi' });
    expect(again.duplicate).toBe(true);
    expect(w.a.seqs(w.conversationId)).toEqual([1]);
  });

  it('logout signs out on the server and locally, and stops the connection', async () => {
    const w = await world();
    await w.a.client.connect();
    w.a.client.sendText(w.conversationId, 'x');
    await w.a.client.auth.logout();
    expect(w.a.client.state).toBe('closed');
    expect(w.a.client.user).toBeNull();
    expect(w.a.client.accessToken).toBeNull();
    await expect(w.a.client.auth.restore()).resolves.toBeNull();
  });
});

describe('KKChatClient end to end under churn', () => {
  it('two chatty clients with reconnects in the middle each see 1..N exactly once', async () => {
    const w = await world({ ackTimeoutMs: 200 });
    await Promise.all([w.a.client.connect(), w.b.client.connect()]);
    w.a.client.trackConversation(w.conversationId, 0);
    w.b.client.trackConversation(w.conversationId, 0);
    const sends: Array<Promise<Message>> = [];
    for (let i = 0; i < 40; i++) {
      sends.push(w.a.client.sendAndWait(w.conversationId, `a${i}`));
      sends.push(w.b.client.sendAndWait(w.conversationId, `b${i}`));
      if (i % 10 === 5) w.server.closeAll(1001, 'restart');
      if (i % 7 === 0) await sleep(1);
    }
    await Promise.all(sends);
    const total = w.server.messages(w.conversationId).length;
    expect(total).toBe(80);
    await vi.waitFor(() => {
      expect(w.a.seqs(w.conversationId)).toEqual(range(1, total));
      expect(w.b.seqs(w.conversationId)).toEqual(range(1, total));
    });
    const texts = w.server.messages(w.conversationId).map((m) => messageText(m));
    const aOrder = texts.filter((t) => t.startsWith('a'));
    expect(aOrder).toEqual(range(0, 39).map((i) => `a${i}`));
  });
});
