import { CLOSE_CODES, type AdminUserDetails, type AuthResult, type ContactListResponse, type ConversationSummary, type FriendRequest } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, newAdmin } from '../support/admin.js';
import { groupApi, newUser } from '../support/groups.js';
import {
  api,
  befriend,
  eventually,
  expectError,
  friends,
  login,
  pingPong,
  RawSocket,
  restSend,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/** Users in the admin API: disable, bulk disable, delete, force sign-out and password reset (BR-14, BR-15). */
let server: TestServer;
let admin: ReturnType<typeof adminApi>;
let groups: ReturnType<typeof groupApi>;
let boss: User;

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
  groups = groupApi(server);
  boss = await newAdmin(server, 'boss');
});
afterAll(async () => {
  await server.close();
});

const me = (user: { accessToken: string }) => api(server.url, 'GET', '/users/me', { token: user.accessToken });

describe('disable (BR-14)', () => {
  it('closes every socket with 4005 at once, refuses the tokens everywhere, and friends see the user go offline', async () => {
    const { a: friend, b: u, conversationId } = await friends(server, 'dis');
    const device2 = (await login(server, u.user.username, u.password)).body;
    const watcher = await RawSocket.connect(server.wsUrl, friend.accessToken);
    const s1 = await RawSocket.connect(server.wsUrl, u.accessToken);
    const s2 = await RawSocket.connect(server.wsUrl, device2.accessToken);
    await watcher.next('presence', (f) => f.userId === u.user.id && f.online);

    const started = Date.now();
    const disabled = await admin.disable(boss, u.user.id);
    expect(disabled.status).toBe(200);
    expect(disabled.body.user).toMatchObject({ status: 'disabled', online: false });
    expect((await s1.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DISABLED);
    expect((await s2.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DISABLED);
    expect(Date.now() - started).toBeLessThan(5000);
    await watcher.next('presence', (f) => f.userId === u.user.id && !f.online);

    // Every route, the refresh, a new socket and sign-in are refused; the friend's sends still work.
    expectError(await me(u), 403, 'ACCOUNT_DISABLED');
    expectError(await restSend(server, u as AuthResult, conversationId, 'still here?'), 403, 'ACCOUNT_DISABLED');
    expectError(await api(server.url, 'POST', '/auth/refresh', { body: { refreshToken: device2.refreshToken } }), 403, 'ACCOUNT_DISABLED');
    const again = await RawSocket.open(server.wsUrl);
    again.send({ type: 'auth', token: u.accessToken });
    expect((await again.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DISABLED);
    expectError(await login(server, u.user.username, u.password), 403, 'ACCOUNT_DISABLED');
    // A wrong password does not reveal that the account is disabled.
    expectError(await login(server, u.user.username, 'wrong password!'), 401, 'INVALID_CREDENTIALS');
    expect((await wsSend(watcher, conversationId, 'are you there?')).type).toBe('ack');

    // Disabled users are hidden from search and profiles.
    const search = await api<{ users: unknown[] }>(server.url, 'GET', `/users/search?q=${u.user.username}`, { token: friend.accessToken });
    expect(search.body.users).toEqual([]);

    // Enabling lets them sign in again (the old sessions stay revoked).
    expect((await admin.enable(boss, u.user.id)).body.user.status).toBe('active');
    expectError(await me(u), 401, 'SESSION_REVOKED');
    const back = await login(server, u.user.username, u.password);
    expect(back.status).toBe(200);
    expect((await me(back.body)).status).toBe(200);
    watcher.close();
  });

  it('a disabled account cannot keep a socket even if the close event never arrived (heartbeat check)', async () => {
    const quick = await startServer({ KKCHAT_HEARTBEAT_MS: '150' });
    try {
      const user = await newUser(quick, 'hb');
      const socket = await RawSocket.connect(quick.wsUrl, user.accessToken);
      // Disable behind the bus's back, as if the event had been lost on the way to this node.
      await quick.kkchat.platform.db.updateTable('users').set({ disabled_at: Date.now() }).where('id', '=', user.user.id).execute();
      expect((await socket.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DISABLED);
    } finally {
      await quick.close();
    }
  });

  it('refuses to disable yourself or the last administrator; disabling twice changes nothing', async () => {
    expectError(await admin.disable(boss, boss.user.id), 400, 'CANNOT_TARGET_SELF');
    const u = await newUser(server, 'twice');
    await admin.disable(boss, u.user.id);
    const before = (await admin.audit(boss, `targetId=${u.user.id}`)).body.entries.length;
    expect((await admin.disable(boss, u.user.id)).status).toBe(200);
    expect((await admin.audit(boss, `targetId=${u.user.id}`)).body.entries.length).toBe(before);
    expectError(await admin.disable(boss, 'no-such-user'), 404, 'USER_NOT_FOUND');
  });

  it('bulk: 50 users with open sockets are all cut off and refused; self and unknown ids are skipped', async () => {
    const users: User[] = [];
    for (let i = 0; i < 50; i++) users.push(await newUser(server, 'bulk'));
    const sockets = await Promise.all(users.map((u) => RawSocket.connect(server.wsUrl, u.accessToken)));
    const result = await admin.bulkDisable(boss, [...users.map((u) => u.user.id), boss.user.id, 'nobody']);
    expect(result.status).toBe(200);
    expect(result.body.disabled.sort()).toEqual(users.map((u) => u.user.id).sort());
    expect(result.body.skipped).toEqual([
      { userId: boss.user.id, code: 'CANNOT_TARGET_SELF' },
      { userId: 'nobody', code: 'USER_NOT_FOUND' },
    ]);
    const closes = await Promise.all(sockets.map((s) => s.waitClosed(5000)));
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([CLOSE_CODES.ACCOUNT_DISABLED]));
    const refused = await Promise.all(users.map((u) => me(u)));
    expect(new Set(refused.map((r) => r.status))).toEqual(new Set([403]));
    const audit = await admin.audit(boss, 'action=user.disabled&limit=200');
    for (const u of users) expect(audit.body.entries.some((e) => e.targetId === u.user.id && e.details.bulk === true)).toBe(true);
  });
});

describe('force sign-out and password reset', () => {
  it('signs the user out everywhere (4003 admin_signout); they can sign in again', async () => {
    const u = await newUser(server, 'so');
    const socket = await RawSocket.connect(server.wsUrl, u.accessToken);
    expect((await admin.signOut(boss, u.user.id)).status).toBe(200);
    expect(await socket.waitClosed(5000)).toEqual({ code: CLOSE_CODES.SESSION_REVOKED, reason: 'admin_signout' });
    expectError(await me(u), 401, 'SESSION_REVOKED');
    expectError(await api(server.url, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } }), 401, 'REFRESH_TOKEN_INVALID');
    expect((await login(server, u.user.username, u.password)).status).toBe(200);
  });

  it('a one-time password, shown once, that must be replaced at the next sign-in', async () => {
    const u = await newUser(server, 'rp');
    const socket = await RawSocket.connect(server.wsUrl, u.accessToken);
    const reset = await admin.resetPassword(boss, u.user.id);
    expect(reset.status).toBe(200);
    const otp = reset.body.oneTimePassword;
    expect(otp).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    expect(await socket.waitClosed(5000)).toEqual({ code: CLOSE_CODES.SESSION_REVOKED, reason: 'password_reset' });
    expectError(await login(server, u.user.username, u.password), 401, 'INVALID_CREDENTIALS');
    expectError(await login(server, u.user.username, otp), 403, 'PASSWORD_CHANGE_REQUIRED');
    expect((await admin.user(boss, u.user.id)).body.user.mustChangePassword).toBe(true);

    const renew = (body: Record<string, string>) => api<AuthResult>(server.url, 'POST', '/auth/password/renew', { body });
    expectError(await renew({ username: u.user.username, password: 'not the otp', newPassword: 'a brand new one' }), 401, 'INVALID_CREDENTIALS');
    expectError(await renew({ username: u.user.username, password: otp, newPassword: otp }), 400, 'VALIDATION_FAILED');
    const renewed = await renew({ username: u.user.username, password: otp, newPassword: 'a brand new one' });
    expect(renewed.status).toBe(201);
    expect((await me(renewed.body)).status).toBe(200);
    expectError(await login(server, u.user.username, otp), 401, 'INVALID_CREDENTIALS');
    expect((await login(server, u.user.username, 'a brand new one')).status).toBe(200);
    expect((await admin.user(boss, u.user.id)).body.user.mustChangePassword).toBe(false);

    // The audit log says it happened, never what the password was.
    const audit = await admin.audit(boss, `targetId=${u.user.id}&action=user.password_reset`);
    expect(audit.body.entries).toHaveLength(1);
    expect(JSON.stringify(audit.body.entries)).not.toContain(otp);
  });
});

describe('delete: the anonymisation rule', () => {
  it('cuts the user off, frees the name, removes ties, keeps messages as from a deleted user, and hands groups over', async () => {
    const { a: friend, b: u, conversationId } = await friends(server, 'del');
    const asker = await newUser(server, 'dask');
    const blocker = await newUser(server, 'dblk');
    const member = await newUser(server, 'dmem');
    const lonely = await newUser(server, 'dlon');
    await befriend(server.url, u, member);
    await befriend(server.url, u, lonely);
    await api(server.url, 'POST', '/friend-requests', { token: asker.accessToken, body: { userId: u.user.id } });
    await api(server.url, 'PUT', `/blocks/${u.user.id}`, { token: blocker.accessToken, body: {} });
    const owned = await api<{ conversation: ConversationSummary }>(server.url, 'POST', '/groups', {
      token: u.accessToken,
      body: { name: 'Owned by the deleted', memberIds: [member.user.id, friend.user.id] },
    });
    const ownedId = owned.body.conversation.id;
    await groups.role(u, ownedId, friend.user.id, 'admin');
    const alone = await api<{ conversation: ConversationSummary }>(server.url, 'POST', '/groups', { token: u.accessToken, body: { name: 'Solo', memberIds: [] } });
    await restSend(server, u as AuthResult, conversationId, 'my last words');

    const watcher = await RawSocket.connect(server.wsUrl, friend.accessToken);
    const askerSocket = await RawSocket.connect(server.wsUrl, asker.accessToken);
    const socket = await RawSocket.connect(server.wsUrl, u.accessToken);
    await watcher.next('presence', (f) => f.userId === u.user.id && f.online);

    const deleted = await admin.remove(boss, u.user.id);
    expect(deleted.status).toBe(200);
    expect(deleted.body.user).toMatchObject({ status: 'deleted', user: { displayName: 'Deleted user', bio: '', deleted: true } });
    expect((await socket.waitClosed(5000)).code).toBe(CLOSE_CODES.ACCOUNT_DELETED);
    await watcher.next('presence', (f) => f.userId === u.user.id && !f.online);
    await watcher.next('contact.removed', (f) => f.userId === u.user.id);
    const cancelled = await askerSocket.next('friend.request', (f) => f.request.status === 'cancelled');
    expect((cancelled.request as FriendRequest).to.deleted).toBe(true);
    expectError(await me(u), 403, 'ACCOUNT_DELETED');
    expectError(await login(server, u.user.username, u.password), 401, 'INVALID_CREDENTIALS');

    // The name is free for someone new.
    const reuse = await api(server.url, 'POST', '/auth/register', { body: { username: u.user.username, password: 'someone else entirely' } });
    expect(reuse.status).toBe(201);

    // Ties are gone; the conversation and its messages stay, from a deleted user.
    const contacts = await api<ContactListResponse>(server.url, 'GET', '/contacts', { token: friend.accessToken });
    expect(contacts.body.contacts.map((c) => c.user.id)).not.toContain(u.user.id);
    const blocks = await api<{ blocks: unknown[] }>(server.url, 'GET', '/blocks', { token: blocker.accessToken });
    expect(blocks.body.blocks).toEqual([]);
    const direct = await api<{ conversation: ConversationSummary }>(server.url, 'GET', `/conversations/${conversationId}`, { token: friend.accessToken });
    expect(direct.body.conversation.peer).toMatchObject({ id: u.user.id, displayName: 'Deleted user', deleted: true });
    const page = await api<{ messages: { senderId: string; kind: string; text?: string }[] }>(server.url, 'GET', `/conversations/${conversationId}/messages`, {
      token: friend.accessToken,
    });
    expect(page.body.messages.at(-1)).toMatchObject({ senderId: u.user.id, kind: 'text', text: 'my last words' });
    expectError(await restSend(server, friend, conversationId, 'hello?'), 403, 'NOT_FRIENDS');

    // The owned group went to its admin; the group with nobody else was dismissed.
    await eventually(async () => (await groups.get(friend, ownedId)).body.conversation.group?.role === 'owner');
    const members = await groups.members(friend, ownedId);
    expect(members.body.members.map((m) => m.user.id).sort()).toEqual([friend.user.id, member.user.id].sort());
    const history = await api<{ messages: { kind: string; event?: { type: string; byAdmin?: boolean } }[] }>(
      server.url,
      'GET',
      `/conversations/${ownedId}/messages?limit=5`,
      { token: member.accessToken },
    );
    expect(history.body.messages.slice(-2).map((m) => [m.event?.type, m.event?.byAdmin])).toEqual([
      ['owner_changed', true],
      ['member_removed', true],
    ]);
    const solo = await admin.call<{ group: { status: string } }>(boss, 'GET', `/groups/${alone.body.conversation.id}`);
    expect(solo.body.group.status).toBe('dismissed');

    // The audit entry keeps the former name; deleting again only finishes the group step.
    const audit = await admin.audit(boss, `targetId=${u.user.id}&action=user.deleted`);
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({ details: { username: u.user.username }, targetLabel: 'Deleted user' });
    expect((await admin.remove(boss, u.user.id)).status).toBe(200);
    expect((await admin.audit(boss, `targetId=${u.user.id}&action=user.deleted`)).body.entries).toHaveLength(1);
    await pingPong(watcher);
    watcher.close();
    askerSocket.close();
  });

  it('refuses to delete yourself', async () => {
    expectError(await admin.remove(boss, boss.user.id), 400, 'CANNOT_TARGET_SELF');
  });
});

describe('lists and details', () => {
  it('searches, filters by status and role, pages; details show online, sessions, groups, conversations, created and last seen', async () => {
    const tag = `lst${Date.now().toString(36)}`;
    const people: User[] = [];
    for (let i = 0; i < 5; i++) people.push(await newUser(server, tag));
    await admin.disable(boss, people[0]!.user.id);
    await admin.setRole(boss, people[1]!.user.id, 'admin');
    const list = (query: string) => admin.call<{ users: { user: { id: string }; status: string; role: string }[]; total: number }>(boss, 'GET', `/users?${query}`);
    expect((await list(`q=${tag}`)).body.total).toBe(5);
    expect((await list(`q=${tag}&status=disabled`)).body.users.map((u) => u.user.id)).toEqual([people[0]!.user.id]);
    expect((await list(`q=${tag}&role=admin`)).body.users.map((u) => u.user.id)).toEqual([people[1]!.user.id]);
    expect((await list(`q=${tag}&status=active`)).body.total).toBe(4);
    const page1 = await list(`q=${tag}&pageSize=2&page=1`);
    const page3 = await list(`q=${tag}&pageSize=2&page=3`);
    expect(page1.body.users).toHaveLength(2);
    expect(page3.body.users).toHaveLength(1);
    expect(page1.body.total).toBe(5);
    expectError(await list('pageSize=1000'), 400, 'VALIDATION_FAILED');

    const before = Date.now();
    const { a, b, conversationId } = await friends(server, 'det');
    const afterRegistering = Date.now();
    const group = await api<{ conversation: ConversationSummary }>(server.url, 'POST', '/groups', {
      token: a.accessToken,
      body: { name: `Details ${tag}`, memberIds: [b.user.id] },
    });
    const joinedGroup = await api<{ conversation: ConversationSummary }>(server.url, 'POST', '/groups', {
      token: b.accessToken,
      body: { name: `Joined ${tag}`, memberIds: [a.user.id] },
    });
    const socket = await RawSocket.connect(server.wsUrl, a.accessToken);
    type Details = AdminUserDetails;
    const details = (await admin.call<{ user: Details }>(boss, 'GET', `/users/${a.user.id}`)).body.user;
    expect(details.online).toBe(true);
    expect(details.sessions).toHaveLength(1);
    expect(details.conversations.map((c) => c.conversationId)).toEqual([conversationId]);
    expect(details.conversations[0]!.peer.id).toBe(b.user.id);
    expect(details.createdAt).toBeGreaterThanOrEqual(before);
    expect(details.createdAt).toBeLessThanOrEqual(afterRegistering);
    // Never disconnected yet: no "last seen".
    expect(details.lastSeenAt).toBeNull();
    const byName = (g: { name: string }) => g.name;
    expect([...details.groups].sort((x, y) => byName(x).localeCompare(byName(y)))).toEqual([
      { conversationId: group.body.conversation.id, name: `Details ${tag}`, role: 'owner', joinedAt: expect.any(Number) },
      { conversationId: joinedGroup.body.conversation.id, name: `Joined ${tag}`, role: 'member', joinedAt: expect.any(Number) },
    ]);
    for (const g of details.groups) expect(g.joinedAt).toBeGreaterThanOrEqual(afterRegistering);
    // A group left is no longer listed.
    expect((await groups.leave(a, joinedGroup.body.conversation.id)).status).toBe(200);

    // The last socket closes: offline, and "last seen" is the moment it went.
    const closedAt = Date.now();
    socket.close();
    const offline = async (): Promise<Details | false> => {
      const user = (await admin.call<{ user: Details }>(boss, 'GET', `/users/${a.user.id}`)).body.user;
      return user.online === false && user.lastSeenAt !== null ? user : false;
    };
    await eventually(offline);
    const gone = (await offline()) as Details;
    expect(gone.lastSeenAt).toBeGreaterThanOrEqual(closedAt);
    expect(gone.lastSeenAt).toBeLessThanOrEqual(Date.now());
    expect(gone.groups.map((g) => g.conversationId)).toEqual([group.body.conversation.id]);
    expect(gone.createdAt).toBe(details.createdAt);
  });
});
