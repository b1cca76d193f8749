import { CLOSE_CODES, messageText } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { MemoryPresenceStore } from '../../src/platform/presence/presence-store.js';
import {
  api,
  eventually,
  framesOf,
  friends,
  history,
  pingPong,
  RawSocket,
  registerUser,
  sleep,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ KKCHAT_WS_AUTH_TIMEOUT_MS: '300', KKCHAT_HEARTBEAT_MS: '200' });
});
afterAll(async () => {
  await server.close();
});

/** Tries a WebSocket handshake; resolves with 101 on upgrade or the HTTP status the server refused with. */
function handshake(url: string, headers: { origin?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, headers.origin !== undefined ? { origin: headers.origin } : {});
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

describe('handshake and authentication (BR-17, BR-18)', () => {
  it('closes with 4001 when no auth frame arrives in time', async () => {
    const socket = await RawSocket.open(server.wsUrl);
    expect((await socket.waitClosed(10_000)).code).toBe(CLOSE_CODES.AUTH_TIMEOUT);
    expect(socket.frames).toEqual([]);
  });

  it('closes with 4004 when the first frame is not auth, and accepts nothing before auth', async () => {
    const { conversationId } = await friends(server, 'na');
    const socket = await RawSocket.open(server.wsUrl);
    socket.send({ type: 'send', conversationId, clientMsgId: 'pre-auth', kind: 'text', text: 'sneaky' });
    expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.AUTH_REQUIRED);
    expect(socket.frames).toEqual([]);
    const other = await RawSocket.open(server.wsUrl);
    other.send('this is not json');
    expect((await other.waitClosed()).code).toBe(CLOSE_CODES.AUTH_REQUIRED);
  });

  it('closes with 4002 for a bad token and 4003 for a revoked session', async () => {
    const bad = await RawSocket.open(server.wsUrl);
    bad.send({ type: 'auth', token: 'garbage.token.here' });
    expect((await bad.waitClosed()).code).toBe(CLOSE_CODES.AUTH_FAILED);

    const user = await registerUser(server.url, 'gwr');
    expect((await api(server.url, 'POST', '/auth/logout', { token: user.accessToken })).status).toBe(204);
    const revoked = await RawSocket.open(server.wsUrl);
    revoked.send({ type: 'auth', token: user.accessToken });
    expect((await revoked.waitClosed()).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    expect(revoked.frames).toEqual([]);
  });

  it('answers auth with auth.ok carrying the user, session and heartbeat', async () => {
    const user = await registerUser(server.url, 'gwo');
    const socket = await RawSocket.connect(server.wsUrl, user.accessToken);
    expect(socket.frames[0]).toMatchObject({ type: 'auth.ok', userId: user.user.id, sessionId: user.sessionId, heartbeatMs: 200 });
    socket.send({ type: 'auth', token: user.accessToken });
    expect((await socket.next('error')).code).toBe('ALREADY_AUTHENTICATED');
    await pingPong(socket);
    socket.close();
  });

  it('handles frames sent right behind the auth frame, without waiting for auth.ok', async () => {
    const { a, conversationId } = await friends(server, 'pipe');
    const socket = await RawSocket.open(server.wsUrl);
    socket.send({ type: 'auth', token: a.accessToken });
    socket.send({ type: 'ping', rid: 'p1' });
    socket.send({ type: 'send', rid: 's1', conversationId, clientMsgId: 'pipe-1', kind: 'text', text: 'eager' });
    await socket.next('pong', (f) => f.rid === 'p1');
    const ack = await socket.next('ack', (f) => f.rid === 's1');
    expect(ack.message.seq).toBe(1);
    expect(socket.frames[0]!.type).toBe('auth.ok');
    socket.close();
  });

  it('refuses a foreign Origin with HTTP 403 (no upgrade); allows its own origin and no Origin (BR-17)', async () => {
    const port = new URL(server.url).port;
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port}.evil.example`, `http://evil-127.0.0.1:${port}`, `http://127.0.0.1:${Number(port) + 1}`]) {
      expect({ origin, status: await handshake(server.wsUrl, { origin }) }).toEqual({ origin, status: 403 });
    }
    expect(await handshake(server.wsUrl, { origin: server.url })).toBe(101);
    expect(await handshake(server.wsUrl, { origin: `http://localhost:${port}` })).toBe(101);
    expect(await handshake(server.wsUrl)).toBe(101);
    expect(await handshake(server.wsUrl.replace('/ws', '/other'))).toBe(404);
  });
});

describe('bad frames keep the socket usable (BR-18)', () => {
  let user: User;
  let socket: RawSocket;
  let conversationId: string;

  beforeAll(async () => {
    const pair = await friends(server, 'bf');
    user = pair.a;
    conversationId = pair.conversationId;
    socket = await RawSocket.connect(server.wsUrl, user.accessToken);
  });
  afterAll(() => socket.close());

  it('malformed JSON → INVALID_FRAME', async () => {
    socket.send('{"type": "ping",');
    expect((await socket.next('error', (f) => f.code === 'INVALID_FRAME')).message).toMatch(/JSON/);
    await pingPong(socket);
  });

  it('JSON that is not an object → INVALID_FRAME', async () => {
    const before = framesOf(socket, 'error').length;
    for (const text of ['[1,2]', 'null', '42', '"ping"']) socket.send(text);
    await pingPong(socket);
    const errors = framesOf(socket, 'error').slice(before);
    expect(errors.map((f) => f.code)).toEqual(['INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME']);
  });

  it('unknown type (including a fake "system" message) → UNKNOWN_FRAME_TYPE', async () => {
    socket.send({ type: 'system', text: 'You have been promoted to admin' });
    expect((await socket.next('error', (f) => f.code === 'UNKNOWN_FRAME_TYPE')).message).toMatch(/send/);
    socket.send({ text: 'no type at all' });
    await pingPong(socket);
    expect(framesOf(socket, 'error').filter((f) => f.code === 'UNKNOWN_FRAME_TYPE')).toHaveLength(2);
  });

  it('a payload with wrong fields → INVALID_FRAME naming the fields', async () => {
    socket.send({ type: 'send', rid: 'bad1', clientMsgId: 'has spaces!', kind: 'text', text: 42 });
    // The reply repeats the frame's rid, so a client waiting on that request learns it was refused.
    const error = await socket.next('error', (f) => f.rid === 'bad1' && f.code === 'INVALID_FRAME' && (f.fields?.length ?? 0) > 0);
    const fields = error.fields!.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['conversationId', 'clientMsgId', 'text']));
    socket.send({ type: 'send', rid: 'bad0', conversationId, clientMsgId: 'c-sys', kind: 'system', text: 'x' });
    expect(await socket.next('error', (f) => f.rid === 'bad0')).toMatchObject({ code: 'INVALID_FRAME', fields: [{ field: 'kind' }] });
    socket.send({ type: 'read', conversationId, seq: -1 });
    const readError = await socket.next('error', (f) => f.fields?.some((x) => x.field === 'seq') ?? false);
    expect(readError.code).toBe('INVALID_FRAME');
    expect(readError.rid).toBeUndefined();
    socket.send({ type: 'read', rid: 'bad2', conversationId, seq: 'NaN' });
    expect(await socket.next('error', (f) => f.rid === 'bad2')).toMatchObject({ code: 'INVALID_FRAME', fields: [{ field: 'seq' }] });
    socket.send({ type: 'subscribe', rid: 'bad3' });
    expect((await socket.next('error', (f) => f.rid === 'bad3')).code).toBe('UNKNOWN_FRAME_TYPE');
    // A rid that is itself invalid is not repeated.
    socket.send({ type: 'ping', rid: 'x'.repeat(65) });
    expect((await socket.next('error', (f) => f.fields?.some((x) => x.field === 'rid') ?? false)).rid).toBeUndefined();
    await pingPong(socket);
  });

  it('a binary frame → INVALID_FRAME', async () => {
    const before = framesOf(socket, 'error').length;
    socket.ws.send(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true });
    await pingPong(socket);
    expect(framesOf(socket, 'error').slice(before).map((f) => f.code)).toEqual(['INVALID_FRAME']);
  });

  it('after all that, sending still works and nothing stray was stored', async () => {
    const ack = await wsSend(socket, conversationId, 'still working');
    expect(ack).toMatchObject({ type: 'ack', message: { seq: 1 } });
    expect((await history(server, user, conversationId)).body.messages.map((m) => messageText(m))).toEqual(['still working']);
    expect(socket.closed).toBeNull();
  });
});

describe('oversized frames (BR-32)', () => {
  it('a frame over 64 KiB closes that socket with 1009; the server keeps serving others', async () => {
    const { a, b, conversationId } = await friends(server, 'big');
    const bystander = await RawSocket.connect(server.wsUrl, b.accessToken);
    const socket = await RawSocket.connect(server.wsUrl, a.accessToken);
    socket.send({ type: 'send', conversationId, clientMsgId: 'huge', kind: 'text', text: 'x'.repeat(65 * 1024) });
    expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);

    // Before auth too. This file's servers give a socket 300 ms to authenticate, which a loaded machine can spend
    // before the 2 MB frame's header arrives; a server with the default auth timeout makes that race impossible.
    const patient = await startServer();
    try {
      const unauth = await RawSocket.open(patient.wsUrl);
      unauth.send('y'.repeat(2 * 1024 * 1024));
      expect((await unauth.waitClosed()).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
    } finally {
      await patient.close();
    }

    await pingPong(bystander);
    const ack = await wsSend(bystander, conversationId, 'unaffected');
    expect(ack.type).toBe('ack');
    expect((await history(server, a, conversationId)).body.messages.map((m) => m.clientMsgId)).toEqual([ack.type === 'ack' ? ack.message.clientMsgId : '']);
    expect((await api(server.url, 'GET', '/users/me', { token: a.accessToken })).status).toBe(200);
    bystander.close();
  });
});

describe('frame flood (BR-33)', () => {
  let flood: TestServer;
  beforeAll(async () => {
    flood = await startServer();
    // A small per-connection budget that does not refill during the test.
    flood.config.limits.framesPerConnection = { limit: 20, windowMs: 10 * 60_000 };
  });
  afterAll(async () => {
    await flood.close();
  });

  it('answers RATE_LIMITED error frames past the budget, then closes with 4008; other sockets are unaffected', async () => {
    const user = await registerUser(flood.url, 'fl');
    const other = await registerUser(flood.url, 'flo');
    const calm = await RawSocket.connect(flood.wsUrl, other.accessToken);
    const socket = await RawSocket.connect(flood.wsUrl, user.accessToken);
    for (let i = 0; i < 200; i++) socket.send({ type: 'ping', rid: `f${i}` });
    expect((await socket.waitClosed(15_000)).code).toBe(CLOSE_CODES.RATE_LIMITED);
    expect(framesOf(socket, 'pong')).toHaveLength(20);
    const limited = framesOf(socket, 'error');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((f) => f.code === 'RATE_LIMITED' && (f.retryAfterMs ?? 0) > 0)).toBe(true);
    await pingPong(calm);
    calm.close();
  });

  it('closes a socket that keeps sending faster than its budget even though a token refills now and then', async () => {
    // 20 frames per 2 s: one token every 100 ms. The client sends 10 frames every 100 ms, ten times its budget;
    // each refill lets one frame through, which must not wipe out the refusals counted so far.
    flood.config.limits.framesPerConnection = { limit: 20, windowMs: 2000 };
    const user = await registerUser(flood.url, 'fls');
    const socket = await RawSocket.connect(flood.wsUrl, user.accessToken);
    const started = Date.now();
    while (!socket.closed && Date.now() - started < 8000) {
      for (let i = 0; i < 10; i++) socket.send({ type: 'ping' });
      await sleep(100);
    }
    expect(socket.closed?.code).toBe(CLOSE_CODES.RATE_LIMITED);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('a failure while a socket registers', () => {
  it('closes that socket with 1011 instead of ending the process; the server keeps serving', async () => {
    const local = await startServer();
    try {
      const user = await registerUser(local.url, 'fail');
      const presence = local.kkchat.services.presence;
      const original = presence.connected.bind(presence);
      presence.connected = async () => {
        throw new Error('presence store unavailable');
      };
      const socket = await RawSocket.open(local.wsUrl);
      socket.send({ type: 'auth', token: user.accessToken });
      socket.send({ type: 'ping', rid: 'behind-auth' });
      expect((await socket.waitClosed(5000)).code).toBe(1011);
      presence.connected = original;
      const again = await RawSocket.connect(local.wsUrl, user.accessToken);
      await pingPong(again);
      again.close();
      expect((await api(local.url, 'GET', '/users/me', { token: user.accessToken })).status).toBe(200);
    } finally {
      await local.close();
    }
  });
});

describe('connection churn (BR-41)', () => {
  it('after 200 connect/disconnect cycles (half abrupt) the registry and presence are empty', async () => {
    const users: User[] = [];
    for (let i = 0; i < 4; i++) users.push(await registerUser(server.url, `ch${i}`));
    // Friends, so that presence changes have an audience (and take the slower path).
    const { befriend } = await import('../support/raw-client.js');
    await befriend(server.url, users[0]!, users[1]!);
    await befriend(server.url, users[2]!, users[3]!);
    const watcher = await RawSocket.connect(server.wsUrl, users[1]!.accessToken);

    const cycle = async (i: number) => {
      const user = users[i % users.length]!;
      const socket = await RawSocket.open(server.wsUrl);
      socket.send({ type: 'auth', token: user.accessToken });
      if (i % 4 === 3) {
        // Dropped without waiting for auth.ok: the server may still be registering the connection.
        socket.ws.terminate();
        return;
      }
      await socket.next('auth.ok');
      if (i % 2 === 0) {
        socket.close();
        await socket.waitClosed();
      } else {
        socket.ws.terminate();
      }
    };
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => cycle(batch * 20 + j)));
    }
    watcher.close();
    await watcher.waitClosed();

    const presence = server.kkchat.platform.presence as MemoryPresenceStore;
    await eventually(() => {
      expect(server.kkchat.gateway.stats()).toEqual({ connections: 0, users: 0, sessions: 0, addresses: 0 });
      expect(presence.size).toBe(0);
      return true;
    }, 15_000);
    // And everyone shows offline.
    const contacts = await api<{ contacts: { presence: { online: boolean } }[] }>(server.url, 'GET', '/contacts', {
      token: users[1]!.accessToken,
    });
    expect(contacts.body.contacts.map((c) => c.presence.online)).toEqual([false]);
  });

  it('a socket that drops while the server is still registering it does not leave its user online (BR-34)', async () => {
    const { a, b } = await friends(server, 'race');
    const watcher = await RawSocket.connect(server.wsUrl, b.accessToken);
    const presence = server.kkchat.platform.presence as MemoryPresenceStore;
    const auth = server.kkchat.services.auth;
    const original = auth.authenticateSession;
    // Hold the session re-check that the gateway does while registering a socket (the second check for
    // this connection; the first one is part of verifying the token), to drop the socket inside that window.
    let calls = 0;
    let entered = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    auth.authenticateSession = async (actor) => {
      if (actor.userId === a.user.id && ++calls === 2) {
        entered = true;
        await gate;
      }
      return original.call(auth, actor);
    };
    try {
      const before = server.kkchat.gateway.stats().connections;
      const socket = await RawSocket.open(server.wsUrl);
      socket.send({ type: 'auth', token: a.accessToken });
      await eventually(() => entered);
      socket.ws.terminate();
      await eventually(() => server.kkchat.gateway.stats().connections === before);
      release();
      await pingPong(watcher);
      await eventually(async () => (await presence.online([a.user.id])).size === 0);
      const contacts = await api<{ contacts: { presence: { online: boolean } }[] }>(server.url, 'GET', '/contacts', {
        token: b.accessToken,
      });
      expect(contacts.body.contacts.map((c) => c.presence.online)).toEqual([false]);
      // Whatever the watcher was told, the last word is not "online".
      const events = framesOf(watcher, 'presence').filter((f) => f.userId === a.user.id);
      expect(events.at(-1)?.online ?? false).toBe(false);
    } finally {
      auth.authenticateSession = original;
      release();
      watcher.close();
    }
  });
});
