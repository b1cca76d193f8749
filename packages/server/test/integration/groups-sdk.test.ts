import { KKChatClient } from '@kkchat/client';
import type { Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Groups through the SDK the web app uses: the groups namespace, sends with mentions through the outbox, live
 * 'message', 'group.updated' and 'group.removed' events, and a member who joins through an invite link.
 */
let server: TestServer;
const clients: KKChatClient[] = [];
let counter = 0;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server.close();
});

async function signedIn(prefix: string): Promise<{ client: KKChatClient; id: string }> {
  const client = new KKChatClient({ baseUrl: server.url, WebSocket: WebSocket as unknown as never, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
  clients.push(client);
  const username = `${prefix}${Date.now().toString(36)}${counter++}`;
  const auth = await client.auth.register({ username, password: `pw-${username}-secret` });
  await client.connect();
  return { client, id: auth.user.id };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('groups through the SDK', () => {
  it('create, chat with mentions, settings events, link join, removal', async () => {
    const owner = await signedIn('so');
    const member = await signedIn('sm');
    const joiner = await signedIn('sj');
    const request = await owner.client.contacts.sendRequest(member.id);
    await member.client.contacts.accept(request.id);

    const group = await owner.client.groups.create({ name: 'SDK group', memberIds: [member.id] });
    expect(group.group).toMatchObject({ name: 'SDK group', role: 'owner', memberCount: 2 });
    const seen: Message[] = [];
    member.client.on('message', (m) => m.conversationId === group.id && seen.push(m));
    const updated: string[] = [];
    member.client.on('group.updated', (e) => updated.push(e.conversationId));
    member.client.trackConversation(group.id, 0);

    const sent = await owner.client.sendAndWait(group.id, 'hi @member', { mentions: [member.id] });
    expect(sent.kind === 'text' && sent.mentions).toEqual([member.id]);
    await until(() => seen.some((m) => m.seq === sent.seq), 'the member to get the message');
    expect((await member.client.groups.get(group.id)).mentionCount).toBe(1);

    await owner.client.groups.update(group.id, { announcement: 'Read the rules', joinMode: 'open' });
    await until(() => updated.includes(group.id), 'group.updated');
    expect((await member.client.groups.get(group.id)).group?.announcement).toBe('Read the rules');

    const link = await owner.client.groups.createInviteLink(group.id);
    expect((await joiner.client.groups.previewInvite(link.code)).name).toBe('SDK group');
    const joined = await joiner.client.groups.joinViaLink(link.code);
    expect(joined.status).toBe('joined');
    expect((await owner.client.groups.members(group.id)).map((m) => m.user.id).sort()).toEqual([owner.id, member.id, joiner.id].sort());

    const removed: string[] = [];
    joiner.client.on('group.removed', (e) => removed.push(e.reason));
    await owner.client.groups.remove(group.id, joiner.id);
    await until(() => removed.includes('removed'), 'group.removed');
    await expect(joiner.client.sendAndWait(group.id, 'let me back')).rejects.toMatchObject({ code: 'NOT_MEMBER' });
    // Every member's timeline agrees, system messages included.
    const ownerView = await owner.client.conversations.history(group.id);
    const memberView = await member.client.conversations.history(group.id);
    expect(memberView.messages).toEqual(ownerView.messages);
    expect(ownerView.messages.filter((m) => m.kind === 'system').map((m) => (m.kind === 'system' ? m.event.type : ''))).toEqual([
      'group_created',
      'announcement_changed',
      'join_mode_changed',
      'member_joined',
      'member_removed',
    ]);
  });
});
