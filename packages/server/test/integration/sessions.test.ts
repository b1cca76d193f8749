import { CLOSE_CODES, type Session, type UserPublic } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  expectError,
  friends,
  login,
  pingPong,
  RawSocket,
  registerUser,
  startServer,
  wsSend,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

const sessions = (token: string) => api<{ sessions: Session[] }>(server.url, 'GET', '/auth/sessions', { token });

describe('logout (BR-15)', () => {
  it('revokes the session and closes its socket with 4003, while another device stays connected', async () => {
    const { a, conversationId } = await friends(server, 'lo');
    const device2 = await login(server, a.user.username, a.password);
    expect(device2.status).toBe(200);
    const t1 = await RawSocket.connect(server.wsUrl, a.accessToken);
    const t2 = await RawSocket.connect(server.wsUrl, device2.body.accessToken);

    const out = await api(server.url, 'POST', '/auth/logout', { token: a.accessToken });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().some((c) => c.startsWith('kkchat_refresh=;') || /kkchat_refresh=.*Expires=Thu, 01 Jan 1970/i.test(c))).toBe(true);

    expect((await t1.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    expectError(await api(server.url, 'GET', '/users/me', { token: a.accessToken }), 401, 'SESSION_REVOKED');
    expectError(await api(server.url, 'POST', '/auth/refresh', { body: { refreshToken: a.refreshToken } }), 401, 'REFRESH_TOKEN_INVALID');

    // The second device carries on: it can still send and the socket is open.
    await pingPong(t2);
    const ack = await wsSend(t2, conversationId, 'still here');
    expect(ack.type).toBe('ack');
    expect(t2.closed).toBeNull();
    expect((await api(server.url, 'GET', '/users/me', { token: device2.body.accessToken })).status).toBe(200);

    // Then that device is signed out from elsewhere (a third login), and its socket closes too.
    const device3 = await login(server, a.user.username, a.password);
    const del = await api(server.url, 'DELETE', `/auth/sessions/${device2.body.sessionId}`, { token: device3.body.accessToken });
    expect(del.status).toBe(204);
    expect((await t2.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
  });

  it('closes every socket of the logged-out session, not only one', async () => {
    const user = await registerUser(server.url, 'lom');
    const s1 = await RawSocket.connect(server.wsUrl, user.accessToken);
    const s2 = await RawSocket.connect(server.wsUrl, user.accessToken);
    expect((await api(server.url, 'POST', '/auth/logout', { token: user.accessToken })).status).toBe(204);
    expect((await s1.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    expect((await s2.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
  });
});

describe('session list and revoke', () => {
  it('lists active sessions with the current one marked', async () => {
    const user = await registerUser(server.url, 'sl');
    const other = await api<{ sessionId: string; accessToken: string }>(server.url, 'POST', '/auth/login', {
      body: { username: user.user.username, password: user.password, deviceName: 'Work laptop' },
    });
    const list = await sessions(user.accessToken);
    expect(list.status).toBe(200);
    expect(list.body.sessions.map((s) => s.id).sort()).toEqual([user.sessionId, other.body.sessionId].sort());
    const current = list.body.sessions.filter((s) => s.current);
    expect(current.map((s) => s.id)).toEqual([user.sessionId]);
    expect(list.body.sessions.find((s) => s.id === other.body.sessionId)?.deviceName).toBe('Work laptop');

    const fromOther = await sessions(other.body.accessToken);
    expect(fromOther.body.sessions.filter((s) => s.current).map((s) => s.id)).toEqual([other.body.sessionId]);
  });

  it('revoking a session closes that device\'s socket and drops it from the list', async () => {
    const user = await registerUser(server.url, 'rv');
    const phone = await login(server, user.user.username, user.password);
    const phoneSocket = await RawSocket.connect(server.wsUrl, phone.body.accessToken);
    const mySocket = await RawSocket.connect(server.wsUrl, user.accessToken);

    const res = await api(server.url, 'DELETE', `/auth/sessions/${phone.body.sessionId}`, { token: user.accessToken });
    expect(res.status).toBe(204);
    expect((await phoneSocket.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    expectError(await api(server.url, 'GET', '/users/me', { token: phone.body.accessToken }), 401, 'SESSION_REVOKED');
    const list = await sessions(user.accessToken);
    expect(list.body.sessions.map((s) => s.id)).toEqual([user.sessionId]);
    await pingPong(mySocket);
    expect(mySocket.closed).toBeNull();
    // Revoking it again: it no longer exists.
    expectError(await api(server.url, 'DELETE', `/auth/sessions/${phone.body.sessionId}`, { token: user.accessToken }), 404, 'SESSION_NOT_FOUND');
    mySocket.close();
  });

  it('someone else\'s session id answers 404 SESSION_NOT_FOUND and stays alive (BR-19)', async () => {
    const mallory = await registerUser(server.url, 'mal');
    const victim = await registerUser(server.url, 'vic');
    const victimSocket = await RawSocket.connect(server.wsUrl, victim.accessToken);
    const res = await api(server.url, 'DELETE', `/auth/sessions/${victim.sessionId}`, { token: mallory.accessToken });
    const error = expectError(res, 404, 'SESSION_NOT_FOUND');
    const missing = expectError(
      await api(server.url, 'DELETE', '/auth/sessions/00000000-0000-0000-0000-000000000000', { token: mallory.accessToken }),
      404,
      'SESSION_NOT_FOUND',
    );
    expect(error.message).toBe(missing.message);
    expect((await api(server.url, 'GET', '/users/me', { token: victim.accessToken })).status).toBe(200);
    await pingPong(victimSocket);
    expect(victimSocket.closed).toBeNull();
    victimSocket.close();
  });
});

describe('change password', () => {
  it('wrong current password → 403 CURRENT_PASSWORD_INCORRECT; nothing changes', async () => {
    const user = await registerUser(server.url, 'cpw');
    const res = await api(server.url, 'POST', '/auth/password', {
      token: user.accessToken,
      body: { currentPassword: 'not-my-password', newPassword: 'brand-new-password' },
    });
    expectError(res, 403, 'CURRENT_PASSWORD_INCORRECT');
    expect((await login(server, user.user.username, user.password)).status).toBe(200);
    expectError(await login(server, user.user.username, 'brand-new-password'), 401, 'INVALID_CREDENTIALS');
  });

  it('rejects a too-short new password naming newPassword', async () => {
    const user = await registerUser(server.url, 'cps');
    const res = await api(server.url, 'POST', '/auth/password', {
      token: user.accessToken,
      body: { currentPassword: user.password, newPassword: 'short' },
    });
    const error = expectError(res, 400, 'VALIDATION_FAILED');
    expect(error.fields?.map((f) => f.field)).toContain('newPassword');
  });

  it('signs out every other session (sockets close 4003) but keeps the current one; the new password works', async () => {
    const user = await registerUser(server.url, 'cpo');
    const other = await login(server, user.user.username, user.password);
    const otherSocket = await RawSocket.connect(server.wsUrl, other.body.accessToken);
    const mySocket = await RawSocket.connect(server.wsUrl, user.accessToken);

    const res = await api(server.url, 'POST', '/auth/password', {
      token: user.accessToken,
      body: { currentPassword: user.password, newPassword: 'the-new-password' },
    });
    expect(res.status).toBe(204);
    expect((await otherSocket.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    expectError(await api(server.url, 'GET', '/users/me', { token: other.body.accessToken }), 401, 'SESSION_REVOKED');

    expect((await api(server.url, 'GET', '/users/me', { token: user.accessToken })).status).toBe(200);
    await pingPong(mySocket);
    expect(mySocket.closed).toBeNull();
    expect((await sessions(user.accessToken)).body.sessions.map((s) => s.id)).toEqual([user.sessionId]);

    expectError(await login(server, user.user.username, user.password), 401, 'INVALID_CREDENTIALS');
    expect((await login(server, user.user.username, 'the-new-password')).status).toBe(200);
    // The current session's refresh token still works.
    expect((await api(server.url, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } })).status).toBe(200);
    mySocket.close();
  });
});

describe('profile', () => {
  it('edits display name and bio; GET /users/me reflects them; friends and own devices get user.updated', async () => {
    const { a, b } = await friends(server, 'pf');
    const stranger = await registerUser(server.url, 'pfs');
    const bSocket = await RawSocket.connect(server.wsUrl, b.accessToken);
    const aOther = await RawSocket.connect(server.wsUrl, a.accessToken);
    const strangerSocket = await RawSocket.connect(server.wsUrl, stranger.accessToken);

    const res = await api<{ user: UserPublic }>(server.url, 'PATCH', '/users/me', {
      token: a.accessToken,
      body: { displayName: '  New\u200B Name\u202E ', bio: 'Line one\nline two' },
    });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: a.user.id, displayName: 'New Name', bio: 'Line one\nline two' });

    const me = await api<{ user: UserPublic }>(server.url, 'GET', '/users/me', { token: a.accessToken });
    expect(me.body.user).toMatchObject({ displayName: 'New Name', bio: 'Line one\nline two', username: a.user.username });

    const seen = await bSocket.next('user.updated', (f) => f.user.id === a.user.id);
    expect(seen.user).toMatchObject({ displayName: 'New Name', bio: 'Line one\nline two' });
    await aOther.next('user.updated', (f) => f.user.id === a.user.id);

    // Someone who is not a friend is not told.
    await pingPong(strangerSocket);
    expect(strangerSocket.frames.some((f) => f.type === 'user.updated')).toBe(false);

    // Others read the profile by id.
    const byId = await api<{ user: UserPublic }>(server.url, 'GET', `/users/${a.user.id}`, { token: b.accessToken });
    expect(byId.body.user.displayName).toBe('New Name');
    for (const s of [bSocket, aOther, strangerSocket]) s.close();
  });

  it('rejects an invisible display name and a too-long bio, naming the field', async () => {
    const user = await registerUser(server.url, 'pfv');
    const invisible = await api(server.url, 'PATCH', '/users/me', { token: user.accessToken, body: { displayName: '\u200B\u2066' } });
    expect(expectError(invisible, 400, 'VALIDATION_FAILED').fields?.map((f) => f.field)).toEqual(['displayName']);
    const longBio = await api(server.url, 'PATCH', '/users/me', { token: user.accessToken, body: { bio: 'x'.repeat(281) } });
    expect(expectError(longBio, 400, 'VALIDATION_FAILED').fields?.map((f) => f.field)).toEqual(['bio']);
    const unknown = await api(server.url, 'GET', '/users/00000000-0000-0000-0000-000000000000', { token: user.accessToken });
    expectError(unknown, 404, 'USER_NOT_FOUND');
  });
});
