/**
 * The SDK against the real server (in process, SQLite, 127.0.0.1): the paths the unit tests only fake —
 * token refresh on REST and on the socket, session revocation, read receipts and typing over the socket,
 * friend-request events, and a refused send. The delivery guarantee under crashes is covered by
 * packages/server/test/integration/sdk-delivery.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KKChatClient, type ClientEvents } from '@kkchat/client';
// Test support of the server package (not part of its public surface; test code only).
import { startServer, eventually } from '../../server/test/support/helpers.js';
import type { TestServer } from '../../server/test/support/test-server.js';

let server: TestServer | null = null;
const clients: KKChatClient[] = [];
let counter = 0;
let clockOffsetMs = 0;

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server?.close();
  server = null;
  clockOffsetMs = 0;
});

function sdk(url: string): KKChatClient {
  const client = new KKChatClient({
    baseUrl: url,
    WebSocket,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    ackTimeoutMs: 2_000,
    gapFillDelayMs: 20,
  });
  clients.push(client);
  return client;
}

function record<E extends keyof ClientEvents>(client: KKChatClient, event: E): Array<ClientEvents[E]> {
  const seen: Array<ClientEvents[E]> = [];
  client.on(event, (payload) => seen.push(payload));
  return seen;
}

async function signUp(client: KKChatClient, prefix: string) {
  const username = `${prefix}${Date.now().toString(36)}${counter++}`;
  return { username, password: `pw-${username}-secret`, ...(await client.auth.register({ username, password: `pw-${username}-secret` })) };
}

async function start(): Promise<TestServer> {
  server = await startServer({}, { now: () => Date.now() + clockOffsetMs });
  return server;
}

describe('SDK against the real server', () => {
  it('friend request events, chat, read receipts and typing between two users', async () => {
    const { url } = await start();
    const alice = sdk(url);
    const bob = sdk(url);
    await signUp(alice, 'alice');
    const bobAuth = await signUp(bob, 'bob');
    await Promise.all([alice.connect(), bob.connect()]);
    const requests = record(bob, 'friend.request');
    const added = record(alice, 'contact.added');

    const request = await alice.contacts.sendRequest(bobAuth.user.id, 'hello');
    await eventually(() => expect(requests.map((r) => r.id)).toContain(request.id));
    const { contact } = await bob.contacts.accept(request.id);
    await eventually(() => expect(added.map((c) => c.user.id)).toContain(bobAuth.user.id));
    const conversationId = contact.conversationId;

    const bobMessages = record(bob, 'message');
    const reads = record(alice, 'read');
    const typing = record(bob, 'typing');
    alice.typing(conversationId);
    await eventually(() => expect(typing).toEqual([{ conversationId, userId: alice.user?.id }]));

    const sent = await alice.sendAndWait(conversationId, 'hi bob');
    await eventually(() => expect(bobMessages.map((m) => m.id)).toEqual([sent.id]));
    expect(bob.cursor(conversationId)).toBe(1); // untracked until then: tracking starts at the first message
    await expect(bob.conversations.markRead(conversationId, sent.seq)).resolves.toEqual({ readSeq: 1, unreadCount: 0 });
    await eventually(() => expect(reads).toContainEqual({ conversationId, userId: bobAuth.user.id, seq: 1 }));
    const summary = (await bob.conversations.list()).find((c) => c.id === conversationId);
    expect(summary).toMatchObject({ lastSeq: 1, readSeq: 1, unreadCount: 0 });
  });

  it('refreshes an expired access token for REST calls and for the socket (4002)', async () => {
    const { url } = await start();
    const alice = sdk(url);
    await signUp(alice, 'alice');
    await alice.connect();
    const first = alice.accessToken;
    clockOffsetMs = 24 * 3_600_000; // the server now sees every access token as expired
    await expect(alice.users.me()).resolves.toMatchObject({ id: alice.user?.id });
    const second = alice.accessToken;
    expect(second).not.toBe(first);

    // The socket: reconnecting with a token the server refuses gets 4002, refresh, then online again.
    const states = record(alice, 'state');
    clockOffsetMs = 48 * 3_600_000;
    alice.disconnect();
    await alice.connect();
    expect(alice.state).toBe('online');
    expect(alice.accessToken).not.toBe(second);
    expect(states).toContain('reconnecting');
  });

  it('a session revoked from another device closes the socket for good (4003)', async () => {
    const { url } = await start();
    const laptop = sdk(url);
    const phone = sdk(url);
    const account = await signUp(laptop, 'carol');
    await phone.auth.login({ username: account.username, password: account.password });
    await laptop.connect();
    const revoked = record(laptop, 'session.revoked');
    await phone.auth.revokeSession(account.sessionId);
    await eventually(() => expect(laptop.state).toBe('closed'));
    expect(revoked).toEqual([expect.objectContaining({ code: 4003 })]);
    expect(laptop.accessToken).toBeNull();
    await expect(laptop.users.me()).rejects.toMatchObject({ status: 401 });
  });

  it('a send the server refuses for good is marked failed with its code', async () => {
    const { url } = await start();
    const alice = sdk(url);
    const bob = sdk(url);
    await signUp(alice, 'alice');
    const bobAuth = await signUp(bob, 'bob');
    const request = await alice.contacts.sendRequest(bobAuth.user.id);
    const { contact } = await bob.contacts.accept(request.id);
    await bob.contacts.remove(alice.user?.id as string);
    await alice.connect();
    await expect(alice.sendAndWait(contact.conversationId, 'still there?')).rejects.toMatchObject({ code: 'NOT_FRIENDS' });
    expect(alice.outbox(contact.conversationId)).toEqual([
      expect.objectContaining({ state: 'failed', error: expect.objectContaining({ code: 'NOT_FRIENDS' }) }),
    ]);
  });

  it('reports validation errors with their fields', async () => {
    const { url } = await start();
    const client = sdk(url);
    const error = await client.auth.register({ username: 'x', password: 'short' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect((error as { fields?: unknown[] }).fields?.length).toBeGreaterThan(0);
  });

  it('restore() finds nobody without a stored token, and signs back in with one', async () => {
    const { url } = await start();
    const first = sdk(url);
    expect(await first.auth.restore()).toBeNull();
    await signUp(first, 'dave');
    const shared = { value: null as { refreshToken?: string } | null };
    const store = { get: () => shared.value, set: (v: { refreshToken?: string } | null) => (shared.value = v) };
    const second = new KKChatClient({ baseUrl: url, WebSocket, tokenStore: store });
    clients.push(second);
    await second.auth.login({ username: first.user?.username as string, password: `pw-${first.user?.username}-secret` });
    const third = new KKChatClient({ baseUrl: url, WebSocket, tokenStore: store });
    clients.push(third);
    const restored = await third.auth.restore();
    expect(restored?.user.id).toBe(first.user?.id);
    expect(third.user?.id).toBe(first.user?.id);
  });

  it('every REST method of the SDK reaches its endpoint and unwraps its body', async () => {
    const { url } = await start();
    const alice = sdk(url);
    const bob = sdk(url);
    const eve = sdk(url);
    const aliceAuth = await signUp(alice, 'alice');
    const bobAuth = await signUp(bob, 'bob');
    const eveAuth = await signUp(eve, 'eve');

    expect(await alice.users.me()).toMatchObject({ id: aliceAuth.user.id });
    expect(await alice.users.updateProfile({ displayName: 'Alice A.', bio: 'hi' })).toMatchObject({ displayName: 'Alice A.', bio: 'hi' });
    expect(alice.user?.displayName).toBe('Alice A.');
    expect(await alice.users.get(bobAuth.user.id)).toMatchObject({ username: bobAuth.username });
    const found = await alice.users.search(bobAuth.username, 5);
    expect(found).toContainEqual({ user: expect.objectContaining({ id: bobAuth.user.id }), relationship: 'none' });

    // Friend requests: send, list, cancel, reject, accept.
    const toBob = await alice.contacts.sendRequest(bobAuth.user.id, 'hey');
    expect((await bob.contacts.requests()).incoming.map((r) => r.id)).toEqual([toBob.id]);
    expect((await alice.contacts.requests()).outgoing.map((r) => r.id)).toEqual([toBob.id]);
    expect(await alice.contacts.cancel(toBob.id)).toMatchObject({ status: 'cancelled' });
    const toEve = await alice.contacts.sendRequest(eveAuth.user.id);
    expect(await eve.contacts.reject(toEve.id)).toMatchObject({ status: 'rejected' });
    const again = await alice.contacts.sendRequest(bobAuth.user.id);
    const accepted = await bob.contacts.accept(again.id);
    expect(accepted.request.status).toBe('accepted');
    expect((await alice.contacts.list()).map((c) => c.user.id)).toEqual([bobAuth.user.id]);

    // Conversations: open, get, send over REST, history both ways, read.
    const direct = await alice.conversations.openDirect(bobAuth.user.id);
    expect(direct.id).toBe(accepted.contact.conversationId);
    expect(await alice.conversations.get(direct.id)).toMatchObject({ id: direct.id, peer: expect.objectContaining({ id: bobAuth.user.id }) });
    for (let i = 1; i <= 3; i++) {
      const sent = await alice.conversations.sendViaRest(direct.id, { clientMsgId: `rest-${i}`, kind: 'text', text: `m${i}` });
      expect(sent).toMatchObject({ duplicate: false, message: { seq: i } });
    }
    const older = await bob.conversations.history(direct.id, { before: 3, limit: 1 });
    expect(older).toMatchObject({ hasMore: true, lastSeq: 3, messages: [expect.objectContaining({ seq: 2 })] });
    const newer = await bob.conversations.history(direct.id, { after: 1 });
    expect(newer.messages.map((m) => m.seq)).toEqual([2, 3]);
    expect(await bob.conversations.markRead(direct.id, 2)).toEqual({ readSeq: 2, unreadCount: 1 });
    expect((await bob.conversations.list()).map((c) => c.id)).toEqual([direct.id]);

    // Blocks and contact removal.
    await alice.contacts.block(eveAuth.user.id);
    expect((await alice.contacts.blocks()).map((b) => b.user.id)).toEqual([eveAuth.user.id]);
    await alice.contacts.unblock(eveAuth.user.id);
    expect(await alice.contacts.blocks()).toEqual([]);
    await alice.contacts.remove(bobAuth.user.id);
    expect(await alice.contacts.list()).toEqual([]);

    // Sessions and password.
    const second = sdk(url);
    await second.auth.login({ username: aliceAuth.username, password: aliceAuth.password });
    const sessions = await alice.auth.sessions();
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([aliceAuth.sessionId]);
    await alice.auth.changePassword({ currentPassword: aliceAuth.password, newPassword: 'a-new-password-1' });
    await expect(second.users.me()).rejects.toMatchObject({ status: 401 });
    await alice.auth.logout();
    expect(alice.user).toBeNull();
    await expect(alice.auth.login({ username: aliceAuth.username, password: 'a-new-password-1' })).resolves.toMatchObject({
      user: expect.objectContaining({ id: aliceAuth.user.id }),
    });
  });
});
