import { Writable } from 'node:stream';
import { CLOSE_CODES, type AuthResult } from '@kkchat/protocol';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, expectError, login, RawSocket, registerUser, startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

describe('registration and login', () => {
  let server: TestServer;
  const logLines: string[] = [];
  const secrets: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    server = await startServer({}, { logger: pino({ level: 'trace' }, sink) });
  });
  afterAll(async () => {
    await server.close();
  });

  const register = (body: Record<string, unknown>) => api<AuthResult>(server.url, 'POST', '/auth/register', { body });

  it('registers a user and returns tokens and the public profile', async () => {
    const username = `reg_${unique()}`;
    const password = 'correct horse battery';
    secrets.push(password);
    const res = await register({ username, password, displayName: 'Reg User' });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ username, displayName: 'Reg User', bio: '' });
    expect(res.body.accessToken).toEqual(expect.any(String));
    expect(res.body.refreshToken).toEqual(expect.any(String));
    expect(res.body).not.toHaveProperty('user.passwordHash');
    const me = await api<{ user: { id: string } }>(server.url, 'GET', '/users/me', { token: res.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(res.body.user.id);
  });

  it('defaults the display name to the username', async () => {
    const username = `dn_${unique()}`;
    const res = await register({ username, password: 'password-123' });
    expect(res.status).toBe(201);
    expect(res.body.user.displayName).toBe(username);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['a space', 'has space'],
    ['a forbidden character', 'bad!name'],
    ['non-ASCII letters', 'ünïcode'],
  ])('rejects a username with %s, naming the field', async (_label, username) => {
    const res = await register({ username, password: 'password-123' });
    const error = expectError(res, 400, 'VALIDATION_FAILED');
    expect(error.fields?.map((f) => f.field)).toContain('username');
  });

  it('accepts usernames of exactly 3 and 32 characters with _ . -', async () => {
    const base = unique();
    const three = await register({ username: `x${base.slice(0, 2)}`.slice(0, 3), password: 'password-123' });
    expect(three.status).toBe(201);
    const long = `a.b-c_${base}`.padEnd(32, 'z').slice(0, 32);
    const thirtyTwo = await register({ username: long, password: 'password-123' });
    expect(thirtyTwo.status).toBe(201);
    expect(thirtyTwo.body.user.username).toBe(long);
  });

  it('rejects a password shorter than 8 characters, naming the field', async () => {
    const res = await register({ username: `pw_${unique()}`, password: '1234567' });
    const error = expectError(res, 400, 'VALIDATION_FAILED');
    expect(error.fields?.map((f) => f.field)).toContain('password');
    expect((await register({ username: `pw_${unique()}`, password: '12345678' })).status).toBe(201);
  });

  it('treats usernames as unique case-insensitively (409 USERNAME_TAKEN naming the field)', async () => {
    const name = `Alice${unique()}`;
    expect((await register({ username: name, password: 'password-123' })).status).toBe(201);
    const clash = await register({ username: name.toLowerCase(), password: 'password-456' });
    const error = expectError(clash, 409, 'USERNAME_TAKEN');
    expect(error.fields?.map((f) => f.field)).toEqual(['username']);
    // Login is case-insensitive too.
    expect((await login(server, name.toUpperCase(), 'password-123')).status).toBe(200);
  });

  it('cleans zero-width and bidi characters from display names (BR-30)', async () => {
    const res = await register({ username: `zw_${unique()}`, password: 'password-123', displayName: '  \u200BAl\u200Dex\u202E\u2066 ' });
    expect(res.status).toBe(201);
    expect(res.body.user.displayName).toBe('Alex');
  });

  it('rejects a display name made only of invisible characters, naming displayName', async () => {
    const res = await register({ username: `inv_${unique()}`, password: 'password-123', displayName: '\u200B\u200B\u202E ' });
    const error = expectError(res, 400, 'VALIDATION_FAILED');
    expect(error.fields?.map((f) => f.field)).toEqual(['displayName']);
  });

  it('logs in with the right password; wrong password and unknown user get the same 401', async () => {
    const user = await registerUser(server.url, 'login');
    secrets.push(user.password);
    const ok = await login(server, user.user.username, user.password);
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(user.user.id);
    expect(ok.body.sessionId).not.toBe(user.sessionId);

    const wrong = await login(server, user.user.username, 'not-the-password');
    const unknown = await login(server, `nobody_${unique()}`, 'not-the-password');
    const a = expectError(wrong, 401, 'INVALID_CREDENTIALS');
    const b = expectError(unknown, 401, 'INVALID_CREDENTIALS');
    expect(a.message).toBe(b.message);
  });

  it('stores passwords as argon2id hashes, never in plain text, and never logs them', async () => {
    const username = `hash_${unique()}`;
    const password = `plain-${unique()}`;
    secrets.push(password);
    expect((await register({ username, password })).status).toBe(201);
    await login(server, username, 'a-wrong-password');
    await login(server, username, password);
    const row = await server.kkchat.platform.db
      .selectFrom('users')
      .select(['password_hash'])
      .where('username_norm', '=', username.toLowerCase())
      .executeTakeFirstOrThrow();
    expect(row.password_hash.startsWith('$argon2id$')).toBe(true);
    expect(row.password_hash).not.toContain(password);

    // No plain-text password anywhere in the users or sessions tables.
    const users = await server.kkchat.platform.db.selectFrom('users').selectAll().execute();
    const sessions = await server.kkchat.platform.db.selectFrom('sessions').selectAll().execute();
    const dump = JSON.stringify([users, sessions]);
    for (const secret of secrets) expect(dump).not.toContain(secret);

    const log = logLines.join('');
    for (const secret of secrets) expect(log).not.toContain(secret);
  });

  it('stores refresh tokens only as hashes', async () => {
    const user = await registerUser(server.url, 'rth');
    const rows = await server.kkchat.platform.db.selectFrom('refresh_tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(user.refreshToken);
  });
});

describe('refresh tokens', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const refresh = (refreshToken?: string, headers: Record<string, string> = {}) =>
    api<AuthResult>(server.url, 'POST', '/auth/refresh', {
      ...(refreshToken ? { body: { refreshToken } } : {}),
      headers,
    });

  it('rotates: the new refresh token works and the old one stops working', async () => {
    const user = await registerUser(server.url, 'rot');
    const first = await refresh(user.refreshToken);
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(user.refreshToken);
    expect(first.body.sessionId).toBe(user.sessionId);
    const me = await api(server.url, 'GET', '/users/me', { token: first.body.accessToken });
    expect(me.status).toBe(200);

    const second = await refresh(first.body.refreshToken);
    expect(second.status).toBe(200);
  });

  it('treats reuse of a rotated token as theft: 401 REFRESH_TOKEN_REUSED, session revoked, socket closed 4003', async () => {
    const user = await registerUser(server.url, 'reuse');
    const rotated = await refresh(user.refreshToken);
    expect(rotated.status).toBe(200);
    const socket = await RawSocket.connect(server.wsUrl, rotated.body.accessToken);

    const reused = await refresh(user.refreshToken);
    expectError(reused, 401, 'REFRESH_TOKEN_REUSED');

    expect((await socket.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
    expectError(await api(server.url, 'GET', '/users/me', { token: rotated.body.accessToken }), 401, 'SESSION_REVOKED');
    // The legitimate holder's newer token is dead as well: the whole session ended.
    expectError(await refresh(rotated.body.refreshToken), 401, 'REFRESH_TOKEN_INVALID');
    // A new socket with the old access token is refused as revoked.
    const again = await RawSocket.open(server.wsUrl);
    again.send({ type: 'auth', token: rotated.body.accessToken });
    expect((await again.waitClosed(10_000)).code).toBe(CLOSE_CODES.SESSION_REVOKED);
  });

  it('rejects an unknown or missing refresh token', async () => {
    expectError(await refresh('not-a-real-token'), 401, 'REFRESH_TOKEN_INVALID');
    expectError(await refresh(), 401, 'REFRESH_TOKEN_INVALID');
  });

  it('sets the refresh cookie (httpOnly, SameSite=Strict, Path=/api/v1/auth) and refreshes from it', async () => {
    const user = await registerUser(server.url, 'cookie');
    const res = await login(server, user.user.username, user.password);
    expect(res.status).toBe(200);
    const cookies = res.headers.getSetCookie();
    const cookie = cookies.find((c) => c.startsWith('kkchat_refresh='));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).toMatch(/;\s*Path=\/api\/v1\/auth(;|$)/);
    const value = cookie!.split(';')[0]!.slice('kkchat_refresh='.length);
    expect(decodeURIComponent(value)).toBe(res.body.refreshToken);

    const viaCookie = await refresh(undefined, { cookie: `kkchat_refresh=${value}` });
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.body.sessionId).toBe(res.body.sessionId);
    const next = viaCookie.headers.getSetCookie().find((c) => c.startsWith('kkchat_refresh='));
    expect(next).toBeDefined();
    expect(next).not.toContain(value);
    // A cookie refresh does not echo the new refresh token in the body, where page scripts could read it.
    expect(viaCookie.body.refreshToken).toBe('');
    expect(viaCookie.body.accessToken).toEqual(expect.any(String));
    const nextValue = next!.split(';')[0]!.slice('kkchat_refresh='.length);
    const again = await refresh(undefined, { cookie: `kkchat_refresh=${nextValue}` });
    expect(again.status).toBe(200);
    expect(again.body.refreshToken).toBe('');
    // The cookie's old value has been rotated away.
    const reused = await refresh(undefined, { cookie: `kkchat_refresh=${value}` });
    expectError(reused, 401, 'REFRESH_TOKEN_REUSED');
    // A failed refresh clears both cookies, so the web app stops trying.
    expect(reused.headers.getSetCookie().some((c) => /^kkchat_session=;/.test(c))).toBe(true);
  });

  it('sets a readable session marker (no secret) beside the refresh cookie, and logout clears it', async () => {
    const user = await registerUser(server.url, 'marker');
    const res = await login(server, user.user.username, user.password);
    const marker = res.headers.getSetCookie().find((c) => c.startsWith('kkchat_session='));
    expect(marker).toMatch(/^kkchat_session=1;/);
    expect(marker).not.toMatch(/HttpOnly/i);
    expect(marker).toMatch(/;\s*Path=\/(;|$)/);
    expect(marker).toMatch(/;\s*SameSite=Strict/i);
    const out = await api(server.url, 'POST', '/auth/logout', { token: res.body.accessToken });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().some((c) => /^kkchat_session=;/.test(c))).toBe(true);
  });
});

describe('login throttling', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ KKCHAT_LOGIN_MAX_PER_ACCOUNT: '3' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('throttles an account after repeated failures: 429 LOGIN_THROTTLED with Retry-After and retryAfterMs', async () => {
    const user = await registerUser(server.url, 'thr');
    const other = await registerUser(server.url, 'thro');
    for (let i = 0; i < 3; i++) expectError(await login(server, user.user.username, 'wrong-password'), 401, 'INVALID_CREDENTIALS');
    // Even the right password is refused while the account is throttled.
    const throttled = await login(server, user.user.username, user.password);
    const error = expectError(throttled, 429, 'LOGIN_THROTTLED');
    expect(error.retryAfterMs).toBeGreaterThan(0);
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBe(Math.max(1, Math.ceil(error.retryAfterMs! / 1000)));
    // The throttle is the account's, not everyone's; case does not get around it.
    expectError(await login(server, user.user.username.toUpperCase(), user.password), 429, 'LOGIN_THROTTLED');
    expect((await login(server, other.user.username, other.password)).status).toBe(200);
  });

  it('counts attempts sent in parallel: the account limit holds against a burst of guesses', async () => {
    const user = await registerUser(server.url, 'par');
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => login(server, user.user.username, `wrong-password-${i}`)));
    const codes = burst.map((r) => (r.body as unknown as { error: { code: string } }).error.code);
    expect(codes.filter((c) => c === 'INVALID_CREDENTIALS')).toHaveLength(3);
    expect(codes.filter((c) => c === 'LOGIN_THROTTLED')).toHaveLength(9);
  });

  it('limits current-password guesses on a password change, also when sent in parallel', async () => {
    const user = await registerUser(server.url, 'pwp');
    const change = (currentPassword: string) =>
      api(server.url, 'POST', '/auth/password', { token: user.accessToken, body: { currentPassword, newPassword: 'new-password-123' } });
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => change(`wrong-password-${i}`)));
    const codes = burst.map((r) => (r.body as { error: { code: string } }).error.code);
    expect(codes.filter((c) => c === 'CURRENT_PASSWORD_INCORRECT')).toHaveLength(3);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(5);
    expectError(await change(user.password), 429, 'RATE_LIMITED');
  });

  it('a successful login clears earlier failures', async () => {
    const user = await registerUser(server.url, 'clr');
    for (let i = 0; i < 2; i++) await login(server, user.user.username, 'wrong-password');
    expect((await login(server, user.user.username, user.password)).status).toBe(200);
    for (let i = 0; i < 2; i++) expectError(await login(server, user.user.username, 'wrong-password'), 401, 'INVALID_CREDENTIALS');
    expect((await login(server, user.user.username, user.password)).status).toBe(200);
  });
});

describe('login throttling per IP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ KKCHAT_LOGIN_MAX_PER_IP: '4' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('limits login attempts from one IP across accounts', async () => {
    const users = [await registerUser(server.url, 'ipa'), await registerUser(server.url, 'ipb')];
    for (let i = 0; i < 4; i++) {
      const u = users[i % 2]!;
      expect((await login(server, u.user.username, u.password)).status).toBe(200);
    }
    const throttled = await login(server, users[0]!.user.username, users[0]!.password);
    const error = expectError(throttled, 429, 'LOGIN_THROTTLED');
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectError(await login(server, `unknown_${unique()}`, 'whatever-pass'), 429, 'LOGIN_THROTTLED');
  });
});

describe('registration throttling per IP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ KKCHAT_REGISTER_MAX_PER_IP: '2' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('limits registrations from one IP', async () => {
    await registerUser(server.url, 'r1');
    await registerUser(server.url, 'r2');
    const res = await api(server.url, 'POST', '/auth/register', { body: { username: `r3_${unique()}`, password: 'password-123' } });
    const error = expectError(res, 429, 'RATE_LIMITED');
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(res.headers.get('retry-after')).not.toBeNull();
  });

  it('does not throttle login when registration is throttled', async () => {
    expectError(await login(server, 'nobody-here', 'whatever-pass'), 401, 'INVALID_CREDENTIALS');
  });
});
