import { messageText } from '@kkchat/protocol';
import type { ConversationSummary, UserPublic, UserSearchResult } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  expectError,
  friends,
  history,
  RawSocket,
  registerUser,
  restSend,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;
let user: User;

beforeAll(async () => {
  server = await startServer();
  user = await registerUser(server.url, 'bad');
});
afterAll(async () => {
  await server.close();
});

async function raw(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  const response = await fetch(`${server.url}${path}`, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body, headers: response.headers };
}

describe('request bodies', () => {
  it('invalid JSON → 400 INVALID_JSON', async () => {
    const res = await raw('POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, body: '{"username": "x",' });
    expectError(res, 400, 'INVALID_JSON');
    const authed = await raw('PATCH', '/api/v1/users/me', {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` },
      body: '{bio:',
    });
    expectError(authed, 400, 'INVALID_JSON');
  });

  it('a content type other than JSON → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await raw('POST', '/api/v1/auth/login', {
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ username: 'someone', password: 'something' }),
    });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const form = await raw('POST', '/api/v1/auth/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=someone&password=something',
    });
    expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('a body over 64 KiB → 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await raw('POST', '/api/v1/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'someone', password: 'x'.repeat(70 * 1024) }),
    });
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    const { conversationId, a } = await friends(server, 'big');
    const send = await raw('POST', `/api/v1/conversations/${conversationId}/messages`, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.accessToken}` },
      body: JSON.stringify({ clientMsgId: 'big-1', kind: 'text', text: 'x'.repeat(10 * 64 * 1024) }),
    });
    expectError(send, 413, 'PAYLOAD_TOO_LARGE');
    expect((await history(server, a, conversationId)).body.lastSeq).toBe(0);
  });

  it('schema violations → 400 VALIDATION_FAILED naming each field', async () => {
    const res = await api(server.url, 'POST', '/auth/register', { body: { username: 'x', password: 1 } });
    const error = expectError(res, 400, 'VALIDATION_FAILED');
    expect(error.fields?.map((f) => f.field).sort()).toEqual(['password', 'username']);
    const params = await api(server.url, 'GET', `/users/${'x'.repeat(65)}`, { token: user.accessToken });
    expect(expectError(params, 400, 'VALIDATION_FAILED').fields?.[0]?.field).toMatch(/id/);
    const missing = await api(server.url, 'POST', '/friend-requests', { token: user.accessToken, body: {} });
    expect(expectError(missing, 400, 'VALIDATION_FAILED').fields?.map((f) => f.field)).toEqual(['userId']);
  });
});

describe('routes and authentication', () => {
  it('unknown routes → 404 ROUTE_NOT_FOUND as JSON', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/no-such-thing'],
      ['POST', '/api/v1/no-such-thing'],
      ['GET', '/api/v2/users/me'],
      ['GET', '/api/nothing'],
      ['DELETE', '/api/v1/users/me'],
    ] as const) {
      const res = await raw(method, path, { headers: { authorization: `Bearer ${user.accessToken}` } });
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expectError(res, 404, 'ROUTE_NOT_FOUND');
    }
    // Without a web app build, other paths are JSON 404s too.
    expectError(await raw('GET', '/some/page'), 404, 'ROUTE_NOT_FOUND');
  });

  it('a malformed percent-encoding or an over-long path parameter → 400 in the API error shape, with the usual headers', async () => {
    for (const path of ['/api/v1/users/%E0%A4%A', `/api/v1/users/${'x'.repeat(120)}`, '/%E0%A4%A']) {
      const res = await raw('GET', path, { headers: { authorization: `Bearer ${user.accessToken}` } });
      const error = expectError(res, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(error)).not.toMatch(/FST_|%E0/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    }
  });

  it('a missing, malformed or forged bearer token → 401', async () => {
    expectError(await api(server.url, 'GET', '/users/me'), 401, 'UNAUTHENTICATED');
    expectError(await api(server.url, 'GET', '/users/me', { headers: { authorization: 'Bearer' } }), 401, 'UNAUTHENTICATED');
    expectError(await api(server.url, 'GET', '/users/me', { headers: { authorization: `Basic ${btoa('a:b')}` } }), 401, 'UNAUTHENTICATED');
    expectError(await api(server.url, 'GET', '/users/me', { token: 'garbage' }), 401, 'TOKEN_INVALID');
    expectError(await api(server.url, 'GET', '/contacts', { token: 'a.b.c' }), 401, 'TOKEN_INVALID');

    // A token whose subject was swapped for another user's keeps its old signature: refused.
    const other = await registerUser(server.url, 'oth');
    const [header, payload, signature] = user.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = [header, Buffer.from(JSON.stringify({ ...claims, sub: other.user.id })).toString('base64url'), signature].join('.');
    expectError(await api(server.url, 'GET', '/users/me', { token: forged }), 401, 'TOKEN_INVALID');
    // An unsigned token ("alg": "none") is refused.
    const none = [Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url'), payload, ''].join('.');
    expectError(await api(server.url, 'GET', '/users/me', { token: none }), 401, 'TOKEN_INVALID');
    // The access token is not accepted in the URL.
    expectError(await raw('GET', `/api/v1/users/me?access_token=${user.accessToken}`), 401, 'UNAUTHENTICATED');
  });

  it('security headers on API responses; no wildcard CORS', async () => {
    const res = await raw('GET', '/api/v1/users/me', {
      headers: { authorization: `Bearer ${user.accessToken}`, origin: 'https://evil.example' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('access-control-allow-origin')).not.toBe('*');
    expect(res.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });
});

describe('expired access tokens', () => {
  let clockServer: TestServer;
  let offset = 0;
  beforeAll(async () => {
    clockServer = await startServer({ KKCHAT_ACCESS_TOKEN_TTL_SEC: '60' }, { now: () => Date.now() + offset });
  });
  afterAll(async () => {
    await clockServer.close();
  });

  it('an expired access token → 401 TOKEN_EXPIRED (REST and WS); refreshing gives a working one', async () => {
    const u = await registerUser(clockServer.url, 'exp');
    offset = 2 * 60_000;
    expectError(await api(clockServer.url, 'GET', '/users/me', { token: u.accessToken }), 401, 'TOKEN_EXPIRED');
    const socket = await RawSocket.open(clockServer.wsUrl);
    socket.send({ type: 'auth', token: u.accessToken });
    expect((await socket.waitClosed()).code).toBe(4002);
    const refreshed = await api<{ accessToken: string }>(clockServer.url, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect((await api(clockServer.url, 'GET', '/users/me', { token: refreshed.body.accessToken })).status).toBe(200);
  });
});

describe('unpaired surrogates (not text: the database cannot store them)', () => {
  it('a message text with one is refused over REST and WS and nothing is stored, so push and history never differ', async () => {
    const { a, conversationId } = await friends(server, 'sur');
    // JSON escapes are the only way to carry one; JSON.stringify would write it the same way.
    const rest = await api(server.url, 'POST', `/conversations/${conversationId}/messages`, {
      token: a.accessToken,
      body: '{"clientMsgId":"sur-1","kind":"text","text":"hi\\ud800there"}',
    });
    expect(expectError(rest, 400, 'VALIDATION_FAILED').fields?.map((f) => f.field)).toEqual(['text']);
    const socket = await RawSocket.connect(server.wsUrl, a.accessToken);
    socket.send('{"type":"send","rid":"sur-ws","conversationId":"' + conversationId + '","clientMsgId":"sur-2","kind":"text","text":"\\udc00"}');
    const refused = await socket.next('error', (f) => f.rid === 'sur-ws');
    expect(refused).toMatchObject({ code: 'INVALID_FRAME', fields: [{ field: 'text' }] });
    socket.close();
    expect((await restSend(server, a, conversationId, 'pair \u{1F600} ok')).status).toBe(201);
    expect((await history(server, a, conversationId)).body.messages.map((m) => messageText(m))).toEqual(['pair \u{1F600} ok']);
  });

  it('is dropped from a display name, bio and request note, so the reply matches what is read back', async () => {
    const { a, b } = await friends(server, 'surp');
    const patched = await api<{ user: UserPublic }>(server.url, 'PATCH', '/users/me', {
      token: a.accessToken,
      body: '{"displayName":"Al\\ud800ex","bio":"b\\udfffio"}',
    });
    expect(patched.body.user).toMatchObject({ displayName: 'Alex', bio: 'bio' });
    const seen = await api<{ user: UserPublic }>(server.url, 'GET', `/users/${a.user.id}`, { token: b.accessToken });
    expect(seen.body.user).toMatchObject({ displayName: 'Alex', bio: 'bio' });
    const c = await registerUser(server.url, 'surc');
    const sent = await api<{ request: { note: string } }>(server.url, 'POST', '/friend-requests', {
      token: a.accessToken,
      body: `{"userId":"${c.user.id}","note":"hel\\ud800lo"}`,
    });
    expect(sent.body.request.note).toBe('hello');
    const listed = await api<{ incoming: { note: string }[] }>(server.url, 'GET', '/friend-requests', { token: c.accessToken });
    expect(listed.body.incoming.map((r) => r.note)).toEqual(['hello']);
  });

  it('a display name of blank-looking letters (Hangul filler, blank braille) is refused like an empty one', async () => {
    const user = await registerUser(server.url, 'blank');
    for (const displayName of ['\u3164', '\u2800\u2800', '\u115F\u1160', '\u0301']) {
      const res = await api(server.url, 'PATCH', '/users/me', { token: user.accessToken, body: { displayName } });
      expect(expectError(res, 400, 'VALIDATION_FAILED').fields?.map((f) => f.field)).toEqual(['displayName']);
    }
  });
});

describe('hostile strings are stored and returned verbatim (BR-27, BR-28)', () => {
  it('an HTML display name comes back as the same string everywhere', async () => {
    const { a, b } = await friends(server, 'xss');
    const name = '<svg onload=alert(1)>';
    const res = await api<{ user: UserPublic }>(server.url, 'PATCH', '/users/me', { token: a.accessToken, body: { displayName: name } });
    expect(res.status).toBe(200);
    expect(res.body.user.displayName).toBe(name);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const seen = await api<{ user: UserPublic }>(server.url, 'GET', `/users/${a.user.id}`, { token: b.accessToken });
    expect(seen.body.user.displayName).toBe(name);
    const found = await api<{ users: UserSearchResult[] }>(server.url, 'GET', `/users/search?q=${encodeURIComponent('<svg')}`, {
      token: b.accessToken,
    });
    expect(found.body.users.map((r) => r.user.displayName)).toContain(name);
    const registered = await api<{ user: UserPublic }>(server.url, 'POST', '/auth/register', {
      body: { username: `xss_${Date.now().toString(36)}`, password: 'password-123', displayName: '"><img src=x onerror=alert(2)>' },
    });
    expect(registered.body.user.displayName).toBe('"><img src=x onerror=alert(2)>');
  });

  it('javascript: and data: links in messages are stored exactly as sent', async () => {
    const { a, b, conversationId } = await friends(server, 'lnk');
    const texts = [
      '[x](javascript:alert(1))',
      '[open](javascript:alert(1))',
      '[x](data:text/html;base64,PHNjcmlwdD4=)',
      '[y](JaVaScRiPt:alert(1))',
      '[z](  javascript:alert(1))',
      '<a href="javascript:alert(1)">a</a>',
      '<script>alert("x")</script> & &amp; "quotes" \'single\'',
    ];
    const bSocket = await RawSocket.connect(server.wsUrl, b.accessToken);
    const aSocket = await RawSocket.connect(server.wsUrl, a.accessToken);
    for (const [i, text] of texts.entries()) {
      if (i % 2 === 0) expect(messageText((await restSend(server, a, conversationId, text)).body.message)).toBe(text);
      else {
        const ack = await wsSend(aSocket, conversationId, text);
        expect(ack.type === 'ack' && messageText(ack.message)).toBe(text);
      }
    }
    const h = await history(server, b, conversationId);
    expect(h.body.messages.map((m) => messageText(m))).toEqual(texts);
    await bSocket.next('message', (f) => f.message.seq === texts.length);
    expect(bSocket.frames.filter((f) => f.type === 'message').map((f) => (f.type === 'message' ? messageText(f.message) : ''))).toEqual(texts);
    const list = await api<{ conversations: ConversationSummary[] }>(server.url, 'GET', '/conversations', { token: b.accessToken });
    expect(messageText(list.body.conversations[0]!.lastMessage!)).toBe(texts.at(-1));
    aSocket.close();
    bSocket.close();
  });
});
