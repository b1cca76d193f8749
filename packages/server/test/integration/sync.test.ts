import { messageText } from '@kkchat/protocol';
import type { ConversationSummary, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  expectError,
  framesOf,
  friends,
  history,
  RawSocket,
  range,
  restSend,
  startServer,
  wsSend,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;
let a: User;
let b: User;
let conversationId: string;

const seqs = (messages: Message[]) => messages.map((m) => m.seq);
const summary = async (user: User) =>
  (await api<{ conversations: ConversationSummary[] }>(server.url, 'GET', '/conversations', { token: user.accessToken })).body.conversations.find(
    (c) => c.id === conversationId,
  )!;

beforeAll(async () => {
  server = await startServer();
  ({ a, b, conversationId } = await friends(server, 'sy'));
  // B reads up to seq 10, then goes offline while A sends up to seq 80 ("g11"…"g80").
  for (let i = 1; i <= 10; i++) await restSend(server, a, conversationId, `g${i}`, `g-${i}`);
  const read = await api(server.url, 'POST', `/conversations/${conversationId}/read`, { token: b.accessToken, body: { seq: 10 } });
  expect(read.status).toBe(200);
  for (let i = 11; i <= 80; i++) await restSend(server, a, conversationId, `g${i}`, `g-${i}`);
});
afterAll(async () => {
  await server.close();
});

describe('catch-up by seq (BR-02)', () => {
  it('after=10 with the default limit returns 11..60 and says more exist; the continuation returns 61..80 and stops', async () => {
    const first = await history(server, b, conversationId, 'after=10');
    expect(first.status).toBe(200);
    expect(seqs(first.body.messages)).toEqual(range(11, 60));
    expect(first.body.messages.map((m) => messageText(m))).toEqual(range(11, 60).map((i) => `g${i}`));
    expect(first.body).toMatchObject({ hasMore: true, lastSeq: 80, earliestAvailableSeq: 1 });

    const second = await history(server, b, conversationId, `after=${first.body.messages.at(-1)!.seq}`);
    expect(seqs(second.body.messages)).toEqual(range(61, 80));
    expect(second.body).toMatchObject({ hasMore: false, lastSeq: 80, earliestAvailableSeq: 1 });

    const caughtUp = await history(server, b, conversationId, 'after=80');
    expect(caughtUp.body).toMatchObject({ messages: [], hasMore: false, lastSeq: 80 });
  });

  it('every message carries its sender, client id and creation time', async () => {
    const page = await history(server, b, conversationId, 'after=0&limit=100');
    expect(seqs(page.body.messages)).toEqual(range(1, 80));
    expect(page.body.hasMore).toBe(false);
    for (const m of page.body.messages) {
      expect(m).toMatchObject({ conversationId, senderId: a.user.id, kind: 'text', clientMsgId: `g-${m.seq}` });
      expect(m.createdAt).toEqual(expect.any(Number));
    }
  });
});

describe('the gap between the newest page and the read cursor (BR-05)', () => {
  it('latest page limit=24 → 57..80 with older ones flagged; unread counts all 70; after=10&before=27 fills 11..26', async () => {
    const latest = await history(server, b, conversationId, 'limit=24');
    expect(seqs(latest.body.messages)).toEqual(range(57, 80));
    expect(latest.body.hasMore).toBe(true);

    const view = await summary(b);
    expect(view).toMatchObject({ readSeq: 10, unreadCount: 70, lastSeq: 80 });

    const gap = await history(server, b, conversationId, 'after=10&before=27');
    expect(seqs(gap.body.messages)).toEqual(range(11, 26));

    const older = await history(server, b, conversationId, 'before=57&limit=24');
    expect(seqs(older.body.messages)).toEqual(range(33, 56));
    expect(older.body.hasMore).toBe(true);
    const oldest = await history(server, b, conversationId, 'before=9&limit=24');
    expect(seqs(oldest.body.messages)).toEqual(range(1, 8));
    expect(oldest.body.hasMore).toBe(false);

    // Reading history does not move the read cursor; only marking read does.
    expect((await summary(b)).readSeq).toBe(10);
  });

  it('a bounded range larger than a page still never skips: paging down from `before` closes it', async () => {
    const first = await history(server, b, conversationId, 'after=10&before=80&limit=30');
    const got = seqs(first.body.messages);
    expect(got).toHaveLength(30);
    // Contiguous, inside the range.
    expect(got).toEqual(range(got[0]!, got[0]! + 29));
    expect(got[0]!).toBeGreaterThan(10);
    expect(got.at(-1)!).toBeLessThan(80);
    expect(first.body.hasMore).toBe(true);
    // Whatever end the page came from, the rest of the range is reachable without a gap.
    const rest = got[0]! > 11
      ? await history(server, b, conversationId, `after=10&before=${got[0]}&limit=100`)
      : await history(server, b, conversationId, `after=${got.at(-1)}&before=80&limit=100`);
    const all = [...seqs(rest.body.messages), ...got].sort((x, y) => x - y);
    expect(all).toEqual(range(11, 79));
  });

  it('refuses a page larger than 100 and malformed cursors, naming the field', async () => {
    const big = await history(server, b, conversationId, 'limit=101');
    const error = expectError(big, 400, 'VALIDATION_FAILED');
    expect(error.fields?.some((f) => f.field.includes('limit'))).toBe(true);
    expectError(await history(server, b, conversationId, 'limit=0'), 400, 'VALIDATION_FAILED');
    expectError(await history(server, b, conversationId, 'after=-1'), 400, 'VALIDATION_FAILED');
    expectError(await history(server, b, conversationId, 'after=abc'), 400, 'VALIDATION_FAILED');
    expect((await history(server, b, conversationId, 'limit=100')).body.messages).toHaveLength(80);
  });

  it('an empty conversation says so', async () => {
    const pair = await friends(server, 'sye');
    const empty = await history(server, pair.a, pair.conversationId, 'after=0');
    expect(empty.body).toEqual({ messages: [], hasMore: false, lastSeq: 0, earliestAvailableSeq: 0 });
  });
});

describe('reconnect and catch up', () => {
  it('messages sent while a socket silently died are recovered with after=<last seen seq> (BR-02 variant 5)', async () => {
    const pair = await friends(server, 'syr');
    const bSocket = await RawSocket.connect(server.wsUrl, pair.b.accessToken);
    for (let i = 1; i <= 3; i++) await wsSendVia(pair.a, pair.conversationId, `before ${i}`);
    await bSocket.next('message', (f) => f.message.seq === 3);
    const lastSeen = Math.max(...framesOf(bSocket, 'message').map((f) => f.message.seq));

    // B's network stops delivering (no FIN): pause the socket, A sends 3 more, then the connection is dropped.
    (bSocket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 1; i <= 3; i++) expect((await restSend(server, pair.a, pair.conversationId, `during ${i}`)).status).toBe(201);
    bSocket.ws.terminate();

    // Reconnect: live events first, then pull what was missed, dedupe by seq.
    const again = await RawSocket.connect(server.wsUrl, pair.b.accessToken);
    const live = restSend(server, pair.a, pair.conversationId, 'after reconnect');
    const pulled = await history(server, pair.b, pair.conversationId, `after=${lastSeen}`);
    await live;
    await again.next('message', (f) => messageText(f.message) === 'after reconnect');
    const bySeq = new Map<number, string>();
    for (const m of pulled.body.messages) bySeq.set(m.seq, messageText(m));
    for (const f of framesOf(again, 'message')) bySeq.set(f.message.seq, messageText(f.message));
    expect([...bySeq.keys()].sort((x, y) => x - y)).toEqual(range(4, 7));
    expect([4, 5, 6].map((s) => bySeq.get(s))).toEqual(['during 1', 'during 2', 'during 3']);
    again.close();
  });
});

async function wsSendVia(user: User, conversation: string, text: string): Promise<void> {
  const socket = await RawSocket.connect(server.wsUrl, user.accessToken);
  const ack = await wsSend(socket, conversation, text);
  expect(ack.type).toBe('ack');
  socket.close();
}
