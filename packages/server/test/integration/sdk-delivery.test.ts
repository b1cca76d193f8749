import { messageText } from '@kkchat/protocol';
import { KKChatClient } from '@kkchat/client';
import type { Message } from '@kkchat/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * The delivery guarantee end to end, through the SDK the web app uses: every acknowledged message reaches the
 * other user exactly once and in seq order, across disconnects and a server killed with SIGKILL.
 */

let counter = 0;
function sdk(baseUrl: string): KKChatClient {
  return new KKChatClient({
    baseUrl,
    WebSocket: WebSocket as unknown as never,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ackTimeoutMs: 2000,
  });
}

async function signUp(client: KKChatClient, prefix: string) {
  const username = `${prefix}${Date.now().toString(36)}${counter++}`;
  return client.auth.register({ username, password: `pw-${username}-secret` });
}

/** Records 'message' events and fails the test on any duplicate or out-of-order seq. */
function collect(client: KKChatClient, conversationId: string): Message[] {
  const seen: Message[] = [];
  client.on('message', (message) => {
    if (message.conversationId !== conversationId) return;
    const last = seen.at(-1)?.seq ?? 0;
    if (message.seq !== last + 1) throw new Error(`got seq ${message.seq} after ${last}`);
    seen.push(message);
  });
  return seen;
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function friends(a: KKChatClient, b: KKChatClient, bId: string): Promise<string> {
  const request = await a.contacts.sendRequest(bId, 'hi');
  const accepted = await b.contacts.accept(request.id);
  return accepted.contact.conversationId;
}

describe('delivery through the SDK', () => {
  let server: TestServer | null = null;
  let proc: ServerProcess | null = null;
  const clients: KKChatClient[] = [];

  /** Alice and Bob, friends, both connected; Bob tracks their conversation and records what reaches him. */
  async function friendsOnline(baseUrl: string) {
    const alice = sdk(baseUrl);
    const bob = sdk(baseUrl);
    clients.push(alice, bob);
    await signUp(alice, 'alice');
    const bobAuth = await signUp(bob, 'bob');
    const conversationId = await friends(alice, bob, bobAuth.user.id);
    await alice.connect();
    await bob.connect();
    bob.trackConversation(conversationId, 0);
    return { alice, bob, conversationId, received: collect(bob, conversationId) };
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await server?.close();
    await proc?.stop();
    server = null;
    proc = null;
  });

  it('a user who was offline catches up on more than a page of messages with no gap and no duplicate', async () => {
    server = await startTestServer({ env: { KKCHAT_SEND_MAX_PER_10S: '10000' } });
    const { alice, bob, conversationId, received } = await friendsOnline(server.url);

    await alice.sendAndWait(conversationId, 'before the drop');
    await until(() => received.length === 1, 'the first live message');
    bob.disconnect();

    const texts = Array.from({ length: 130 }, (_, i) => `missed ${i + 1}`);
    for (const text of texts) await alice.sendAndWait(conversationId, text);

    await bob.connect();
    await until(() => received.length === 131, 'the catch-up');
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 131 }, (_, i) => i + 1));
    expect(received.slice(1).map((m) => messageText(m))).toEqual(texts);

    // A live message after the catch-up still arrives exactly once.
    await alice.sendAndWait(conversationId, 'after the catch-up');
    await until(() => received.length === 132, 'the next live message');
    const list = await bob.conversations.list();
    expect(list.find((c) => c.id === conversationId)?.unreadCount).toBe(132);
  });

  it('messages queued while the server is killed (SIGKILL) are delivered once after it restarts', async () => {
    proc = await startServerProcess({ env: { KKCHAT_SEND_MAX_PER_10S: '10000' } });
    const { alice, bob, conversationId, received } = await friendsOnline(proc.url);

    const acked: Message[] = [];
    for (let i = 1; i <= 20; i++) acked.push(await alice.sendAndWait(conversationId, `acked ${i}`));
    // In flight when the process dies: it may or may not have been stored, and its ack may be lost (BR-03).
    const inFlight = alice.sendText(conversationId, 'in flight');
    await proc.kill('SIGKILL');

    // Sent while the server is down: they wait in the outbox as 'sending'.
    const queued = Array.from({ length: 5 }, (_, i) => alice.sendText(conversationId, `queued ${i + 1}`));
    expect(alice.outbox(conversationId).map((e) => e.state)).toEqual(Array(6).fill('sending'));

    await proc.restart();
    await until(() => alice.outbox(conversationId).length === 0, 'the outbox to drain');
    await until(() => received.length === 26, 'bob to receive everything');

    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(received.map((m) => messageText(m))).toEqual([
      ...acked.map((m) => messageText(m)),
      inFlight.text,
      ...queued.map((e) => e.text),
    ]);
    // Every acknowledged message survived the crash with the seq it was acknowledged with.
    const history = await bob.conversations.history(conversationId, { after: 0, limit: 100 });
    expect(history.messages.slice(0, 20).map((m) => [m.seq, m.id])).toEqual(acked.map((m) => [m.seq, m.id]));
    expect(history.lastSeq).toBe(26);
    expect(history.hasMore).toBe(false);
  });
});
