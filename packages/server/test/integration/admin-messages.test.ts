import type { ConversationSummary, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, newAdmin } from '../support/admin.js';
import { buildGroup, groupApi } from '../support/groups.js';
import { api, expectError, framesOf, friends, history, pingPong, RawSocket, restSend, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Removing a message from any conversation (issue 7): a tombstone for everyone, live and in history and sync,
 * its seq kept; unread and mention counts drop for those who had not read it, online or offline (BR-09).
 */
let server: TestServer;
let admin: ReturnType<typeof adminApi>;
let groups: ReturnType<typeof groupApi>;
let boss: User;

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
  groups = groupApi(server);
  boss = await newAdmin(server, 'mboss');
});
afterAll(async () => {
  await server.close();
});

const summary = async (user: User, id: string) =>
  (await api<{ conversation: ConversationSummary }>(server.url, 'GET', `/conversations/${id}`, { token: user.accessToken })).body.conversation;
const shape = (m: Message) => [m.seq, m.kind, m.kind === 'text' ? m.text : m.kind === 'redaction' ? m.removed.seq : null];

async function fiveMessages(a: User, conversationId: string): Promise<Message[]> {
  const sent: Message[] = [];
  for (let i = 1; i <= 5; i++) sent.push((await restSend(server, a, conversationId, `m${i}`)).body.message);
  return sent;
}

describe('BR-09: removed messages leave the unread count, for offline and online recipients', () => {
  it('offline: B signs in later and sees unread 3, then syncs 1, 2, 5 with tombstones for 3 and 4', async () => {
    const { a, b, conversationId } = await friends(server, 'rmo');
    await fiveMessages(a, conversationId);
    expect((await summary(b, conversationId)).unreadCount).toBe(5);
    expect((await admin.removeMessage(boss, conversationId, 3)).body.message).toMatchObject({ seq: 3, kind: 'removed' });
    expect((await admin.removeMessage(boss, conversationId, 4)).status).toBe(200);

    const list = await api<{ conversations: ConversationSummary[] }>(server.url, 'GET', '/conversations', { token: b.accessToken });
    const listed = list.body.conversations.find((c) => c.id === conversationId)!;
    expect(listed.unreadCount).toBe(3);
    const synced = await history(server, b, conversationId, 'after=0');
    expect(synced.body.messages.map(shape)).toEqual([
      [1, 'text', 'm1'],
      [2, 'text', 'm2'],
      [3, 'removed', null],
      [4, 'removed', null],
      [5, 'text', 'm5'],
      [6, 'redaction', 3],
      [7, 'redaction', 4],
    ]);
    // Nothing of the content is left on the wire, and the seqs are never reused.
    expect(JSON.stringify(synced.body.messages)).not.toMatch(/"m3"|"m4"/);
    expect((await restSend(server, a, conversationId, 'm8')).body.message.seq).toBe(8);
    expect((await summary(b, conversationId)).unreadCount).toBe(4);
    // Reading up to the newest seq, redactions included, clears it.
    await api(server.url, 'POST', `/conversations/${conversationId}/read`, { token: b.accessToken, body: { seq: 8 } });
    expect((await summary(b, conversationId)).unreadCount).toBe(0);
  });

  it('online: B gets message.removed and the redaction record live; the count is right; a reader is unaffected', async () => {
    const { a, b, conversationId } = await friends(server, 'rmn');
    await fiveMessages(a, conversationId);
    // B has read up to 3 already: removing 3 does not change B's count, removing 4 does.
    await api(server.url, 'POST', `/conversations/${conversationId}/read`, { token: b.accessToken, body: { seq: 3 } });
    const socket = await RawSocket.connect(server.wsUrl, b.accessToken);
    const sender = await RawSocket.connect(server.wsUrl, a.accessToken);
    await admin.removeMessage(boss, conversationId, 3);
    await admin.removeMessage(boss, conversationId, 4);
    await pingPong(socket);
    const removed = await socket.next('message.removed', (f) => f.message.seq === 4);
    expect(removed.message).toMatchObject({ conversationId, seq: 4, kind: 'removed', senderId: a.user.id });
    const records = framesOf(socket, 'message').map((f) => f.message);
    expect(records.map(shape)).toEqual([
      [6, 'redaction', 3],
      [7, 'redaction', 4],
    ]);
    expect(records[0]!.senderId).toBe(boss.user.id);
    // The sender's devices are told too.
    await sender.next('message.removed', (f) => f.message.seq === 3);
    expect((await summary(b, conversationId)).unreadCount).toBe(1);
    expect((await summary(a, conversationId)).unreadCount).toBe(0);
    socket.close();
    sender.close();
  });

  it('groups: the mention count drops too; a member who left after the message gets the tombstone, not the record', async () => {
    const g = await buildGroup(server, { members: 2, prefix: 'rmg' });
    const [reader, leaver] = g.members as [User, User];
    // The reader has read the group's system lines; only what follows counts.
    await api(server.url, 'POST', `/conversations/${g.conversationId}/read`, {
      token: reader.accessToken,
      body: { seq: (await summary(reader, g.conversationId)).lastSeq },
    });
    const mention = await api<{ message: Message }>(server.url, 'POST', `/conversations/${g.conversationId}/messages`, {
      token: g.owner.accessToken,
      body: { clientMsgId: 'rmg-mention-1', kind: 'text', text: '@reader look', mentions: [reader.user.id] },
    });
    const seq = mention.body.message.seq;
    expect(await summary(reader, g.conversationId)).toMatchObject({ unreadCount: 1, mentionCount: 1 });
    await groups.leave(leaver, g.conversationId);
    const leaverSocket = await RawSocket.connect(server.wsUrl, leaver.accessToken);
    const readerSocket = await RawSocket.connect(server.wsUrl, reader.accessToken);

    await admin.removeMessage(boss, g.conversationId, seq);
    expect(await summary(reader, g.conversationId)).toMatchObject({ unreadCount: 1, mentionCount: 0 });
    // (The one unread left is the leaver's member_left line.)
    await readerSocket.next('message', (f) => f.message.kind === 'redaction');
    await leaverSocket.next('message.removed', (f) => f.message.seq === seq);
    await pingPong(leaverSocket);
    expect(framesOf(leaverSocket, 'message')).toEqual([]);
    const leaverHistory = await history(server, leaver, g.conversationId);
    expect(leaverHistory.body.messages.find((m: Message) => m.seq === seq)?.kind).toBe('removed');
    leaverSocket.close();
    readerSocket.close();
  });
});

describe('removal rules', () => {
  it('the preview follows: a removed last message shows its tombstone, never the redaction record', async () => {
    const { a, b, conversationId } = await friends(server, 'rmp');
    await fiveMessages(a, conversationId);
    await admin.removeMessage(boss, conversationId, 5);
    const listed = await summary(b, conversationId);
    expect(listed.lastSeq).toBe(6);
    expect(listed.lastMessage).toMatchObject({ seq: 5, kind: 'removed' });
  });

  it('is idempotent, refuses system records and unknown seqs, and is audited once', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'rmi' });
    const sent = await restSend(server, g.owner, g.conversationId, 'twice');
    const first = await admin.removeMessage(boss, g.conversationId, sent.body.message.seq, 'Harassment');
    const second = await admin.removeMessage(boss, g.conversationId, sent.body.message.seq);
    expect(second.body.message).toEqual(first.body.message);
    const page = await history(server, g.owner, g.conversationId);
    expect(page.body.messages.filter((m: Message) => m.kind === 'redaction')).toHaveLength(1);
    const audit = await admin.audit(boss, `action=message.removed&targetId=${sent.body.message.id}`);
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({ reason: 'Harassment', details: { conversationId: g.conversationId, seq: sent.body.message.seq, senderId: g.owner.user.id } });

    expectError(await admin.removeMessage(boss, g.conversationId, 1), 409, 'MESSAGE_NOT_REMOVABLE');
    const redaction = page.body.messages.find((m: Message) => m.kind === 'redaction')!;
    expectError(await admin.removeMessage(boss, g.conversationId, redaction.seq), 409, 'MESSAGE_NOT_REMOVABLE');
    expectError(await admin.removeMessage(boss, g.conversationId, 999), 404, 'MESSAGE_NOT_FOUND');
    expectError(await admin.removeMessage(boss, 'no-such-conversation', 1), 404, 'CONVERSATION_NOT_FOUND');
    expectError(await admin.removeMessage(boss, g.conversationId, sent.body.message.seq, ''), 400, 'VALIDATION_FAILED');
  });

  it("a retry of the removed message's send answers the tombstone and stores nothing new", async () => {
    const { a, conversationId } = await friends(server, 'rmr');
    const sent = await restSend(server, a, conversationId, 'regret', 'rmr-retry-1');
    await admin.removeMessage(boss, conversationId, sent.body.message.seq);
    const retry = await restSend(server, a, conversationId, 'regret', 'rmr-retry-1');
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ duplicate: true, message: { seq: sent.body.message.seq, kind: 'removed' } });
    expect((await history(server, a, conversationId)).body.lastSeq).toBe(2);
  });

  it('seqs stay gap-free while sends and removals interleave', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'rmc' });
    const first = await restSend(server, g.owner, g.conversationId, 'target');
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => restSend(server, g.members[0]!, g.conversationId, `c${i}`)),
      admin.removeMessage(boss, g.conversationId, first.body.message.seq),
    ]);
    const page = await history(server, g.owner, g.conversationId, 'after=0&limit=100');
    const seqs = page.body.messages.map((m: Message) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(page.body.messages.filter((m: Message) => m.kind === 'redaction')).toHaveLength(1);
  });
});
