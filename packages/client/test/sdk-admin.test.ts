/**
 * The SDK's admin namespace and the events administration causes, against the real server: a removed message
 * reaches an online device live and an offline device through its catch-up; a disabled account ends the
 * session with a reason the app can show; a role change arrives live.
 */
import { CLOSE_CODES, type Message } from '@kkchat/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ApiError, KKChatClient, type ClientEvents } from '@kkchat/client';
// Test support of the server package (not part of its public surface; test code only).
import { makeAdmin } from '../../server/test/support/admin.js';
import { eventually, startServer } from '../../server/test/support/helpers.js';
import type { TestServer } from '../../server/test/support/test-server.js';

let server: TestServer | null = null;
const clients: KKChatClient[] = [];
let counter = 0;

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server?.close();
  server = null;
});

function sdk(url: string): KKChatClient {
  const client = new KKChatClient({ baseUrl: url, WebSocket, reconnect: { minDelayMs: 20, maxDelayMs: 200 }, gapFillDelayMs: 20 });
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
  const password = `pw-${username}-secret`;
  return { username, password, ...(await client.auth.register({ username, password })) };
}

/** An admin, and two friends with their direct conversation, each with a connected client. */
async function setup() {
  server = await startServer();
  const { url } = server;
  const [admin, alice, bob] = [sdk(url), sdk(url), sdk(url)];
  const adminAuth = await signUp(admin, 'adm');
  await makeAdmin(server, { ...adminAuth });
  const aliceAuth = await signUp(alice, 'alice');
  const bobAuth = await signUp(bob, 'bob');
  const request = await alice.contacts.sendRequest(bobAuth.user.id);
  const { contact } = await bob.contacts.accept(request.id);
  await Promise.all([alice.connect(), bob.connect()]);
  return { admin, alice, bob, aliceAuth, bobAuth, conversationId: contact.conversationId };
}

describe('SDK and administration', () => {
  it('a removed message: live on an online device, from the catch-up on one that was offline', async () => {
    const { admin, alice, bob, conversationId } = await setup();
    const live = record(alice, 'message.removed');
    const sent: Message[] = [];
    for (const text of ['one', 'two', 'three']) sent.push(await bob.sendAndWait(conversationId, text));
    alice.trackConversation(conversationId, sent.at(-1)!.seq);
    bob.trackConversation(conversationId, sent.at(-1)!.seq);

    // Bob goes offline; the admin removes "two"; Bob comes back and catches up.
    bob.disconnect();
    const removedForBob = record(bob, 'message.removed');
    const tombstone = await admin.admin.removeMessage(conversationId, sent[1]!.seq, 'spam');
    expect(tombstone).toMatchObject({ seq: sent[1]!.seq, kind: 'removed', conversationId });
    await eventually(() => expect(live.map((m) => m.seq)).toEqual(expect.arrayContaining([sent[1]!.seq])));
    await bob.connect();
    await eventually(() => expect(removedForBob.map((m) => m.seq)).toContain(sent[1]!.seq));
    expect(removedForBob[0]).toMatchObject({ kind: 'removed', conversationId });
    const list = await alice.conversations.list();
    expect(list.find((c) => c.id === conversationId)?.unreadCount).toBe(2);
  });

  it('disable: the open client hears 4005 and stops; a client that was away learns ACCOUNT_DISABLED from its next request', async () => {
    const { admin, alice, bob, bobAuth } = await setup();
    const revoked = record(bob, 'session.revoked');
    const expired = record(alice, 'auth.expired');
    await admin.admin.disable(bobAuth.user.id, 'abuse');
    await eventually(() => expect(revoked).toEqual([{ code: CLOSE_CODES.ACCOUNT_DISABLED, reason: 'account_disabled' }]));
    expect(bob.state).toBe('closed');
    const signIn = await bob.auth.login({ username: bobAuth.username, password: bobAuth.password }).catch((e: unknown) => e);
    expect(signIn).toBeInstanceOf(ApiError);
    expect((signIn as ApiError).code).toBe('ACCOUNT_DISABLED');

    // Alice is disabled while her client is not connected: the next REST call ends the session with the reason.
    alice.disconnect();
    const aliceId = alice.user!.id;
    await admin.admin.disable(aliceId, 'abuse');
    const failure = await alice.contacts.list().catch((e: unknown) => e);
    expect((failure as ApiError).code).toBe('ACCOUNT_DISABLED');
    expect(expired).toEqual([{ code: 'ACCOUNT_DISABLED' }]);
    expect(alice.accessToken).toBeNull();
  });

  it('a role change arrives live; the admin namespace lists, reads the audit log and the dashboard', async () => {
    const { admin, alice, aliceAuth } = await setup();
    const roles = record(alice, 'account.updated');
    await admin.admin.setRole(aliceAuth.user.id, 'admin', 'help with moderation');
    await eventually(() => expect(roles).toEqual([{ role: 'admin' }]));
    const page = await alice.admin.users({ q: aliceAuth.username });
    expect(page.users.map((u) => u.role)).toEqual(['admin']);
    const audit = await alice.admin.audit({ action: 'user.role_granted', targetId: aliceAuth.user.id });
    expect(audit.entries[0]).toMatchObject({ reason: 'help with moderation', via: 'api' });
    const stats = await alice.admin.stats({ days: 7 });
    expect(stats.messagesPerDay).toHaveLength(7);
    expect(stats.users.admins).toBe(2);
    expect(stats.onlineNow).toBeGreaterThanOrEqual(2);
  });
});
