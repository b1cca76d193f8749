import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useConversationsStore, TYPING_VISIBLE_MS } from './conversations';
import { buildMessage, buildRemoved, buildSummary, buildUser, installFakeClient, type FakeClient } from '../test-support/fake-client';

const peer = buildUser('peer');

describe('conversations store', () => {
  let client: FakeClient;
  let store: ReturnType<typeof useConversationsStore>;

  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient(buildUser('me'));
    store = useConversationsStore();
    store.replaceSummaries([buildSummary('c1', peer, { lastSeq: 3, readSeq: 3 })]);
  });
  afterEach(() => vi.useRealTimers());

  it('updates the preview and counts unread for a chat that is not open', () => {
    store.applyMessage(buildMessage('c1', 4, 'peer', 'hi'));
    store.applyMessage(buildMessage('c1', 5, 'peer', 'there'));
    const summary = store.summaries.c1!;
    expect(summary.unreadCount).toBe(2);
    expect(summary.lastSeq).toBe(5);
    expect(summary.lastMessage).toMatchObject({ text: 'there' });
    expect(store.totalUnread).toBe(2);
  });

  it('does not count my own messages or a repeated seq', () => {
    store.applyMessage(buildMessage('c1', 4, 'me'));
    store.applyMessage(buildMessage('c1', 5, 'peer'));
    store.applyMessage(buildMessage('c1', 5, 'peer'));
    expect(store.summaries.c1!.unreadCount).toBe(1);
  });

  it('opens a chat: latest page of 50, tracks from its last seq, marks read', async () => {
    client.conversations.history.mockResolvedValueOnce({
      messages: [buildMessage('c1', 2, 'peer'), buildMessage('c1', 3, 'me')],
      hasMore: true,
      lastSeq: 3,
      earliestAvailableSeq: 1,
    });
    store.summaries.c1!.readSeq = 1;
    store.summaries.c1!.unreadCount = 1;
    await store.open('c1');
    expect(client.conversations.history).toHaveBeenCalledWith('c1', { limit: 50 });
    expect(client.trackConversation).toHaveBeenCalledWith('c1', 3);
    expect(client.conversations.markRead).toHaveBeenCalledWith('c1', 3);
    expect(store.summaries.c1!.unreadCount).toBe(0);
    expect(store.messages.c1!.map((m) => m.seq)).toEqual([2, 3]);
    expect(store.unreadFrom.c1).toBe(2);
  });

  it('marks new messages read while the chat is open and visible, not while hidden', async () => {
    await store.open('c1');
    client.conversations.markRead.mockClear();
    store.applyMessage(buildMessage('c1', 4, 'peer'));
    expect(client.conversations.markRead).toHaveBeenCalledWith('c1', 4);
    expect(store.summaries.c1!.unreadCount).toBe(0);

    store.setPageVisible(false);
    store.applyMessage(buildMessage('c1', 5, 'peer'));
    expect(store.summaries.c1!.unreadCount).toBe(1);
    store.setPageVisible(true);
    expect(client.conversations.markRead).toHaveBeenLastCalledWith('c1', 5);
    expect(store.summaries.c1!.unreadCount).toBe(0);
  });

  it('pages older history with before = the oldest loaded seq', async () => {
    client.conversations.history.mockResolvedValueOnce({
      messages: [buildMessage('c1', 51, 'peer'), buildMessage('c1', 52, 'peer')],
      hasMore: true,
      lastSeq: 52,
      earliestAvailableSeq: 1,
    });
    await store.open('c1');
    client.conversations.history.mockResolvedValueOnce({
      messages: [buildMessage('c1', 49, 'peer'), buildMessage('c1', 50, 'me')],
      hasMore: false,
      lastSeq: 52,
      earliestAvailableSeq: 1,
    });
    expect(await store.loadOlder('c1')).toBe(2);
    expect(client.conversations.history).toHaveBeenLastCalledWith('c1', { before: 51, limit: 50 });
    expect(store.messages.c1!.map((m) => m.seq)).toEqual([49, 50, 51, 52]);
    expect(store.paging.c1!.hasMore).toBe(false);
    expect(await store.loadOlder('c1')).toBe(0);
  });

  it('keeps pending outbox entries until acknowledged, then shows the stored message once', async () => {
    await store.open('c1');
    const entry = store.send('c1', 'hello');
    expect(store.outbox.c1).toHaveLength(1);
    store.applyOutbox({ ...entry, state: 'failed', error: { code: 'RATE_LIMITED', message: 'slow down' } });
    expect(store.outbox.c1![0]!.state).toBe('failed');
    const message = { ...buildMessage('c1', 4, 'me', 'hello'), clientMsgId: entry.clientMsgId };
    store.applyOutbox({ ...entry, state: 'sent', message });
    store.applyMessage(message);
    expect(store.outbox.c1).toHaveLength(0);
    expect(store.messages.c1!.filter((m) => m.seq === 4)).toHaveLength(1);
    expect(store.summaries.c1!.lastMessage).toMatchObject({ text: 'hello' });
  });

  it('moves the peer read cursor on read events and mine on my other device', () => {
    store.applyMessage(buildMessage('c1', 4, 'peer'));
    store.applyRead({ conversationId: 'c1', userId: 'peer', seq: 3 });
    expect(store.summaries.c1!.peerReadSeq).toBe(3);
    store.applyRead({ conversationId: 'c1', userId: 'peer', seq: 2 });
    expect(store.summaries.c1!.peerReadSeq).toBe(3);
    store.applyRead({ conversationId: 'c1', userId: 'me', seq: 4 });
    expect(store.summaries.c1!.unreadCount).toBe(0);
  });

  it('shows typing for about four seconds, and hides it when the message arrives', () => {
    vi.useFakeTimers();
    store.applyTyping({ conversationId: 'c1', userId: 'peer' });
    expect(store.typingUntil.c1).toBeDefined();
    vi.advanceTimersByTime(TYPING_VISIBLE_MS + 1);
    expect(store.typingUntil.c1).toBeUndefined();
    store.applyTyping({ conversationId: 'c1', userId: 'peer' });
    store.applyMessage(buildMessage('c1', 4, 'peer'));
    expect(store.typingUntil.c1).toBeUndefined();
    store.applyTyping({ conversationId: 'c1', userId: 'me' });
    expect(store.typingUntil.c1).toBeUndefined();
  });

  it('replaces summaries on a conversations event and fetches an unknown conversation', async () => {
    client.conversations.get.mockResolvedValueOnce(buildSummary('c2', buildUser('other'), { lastSeq: 1, unreadCount: 1 }));
    store.applyMessage(buildMessage('c2', 1, 'other'));
    await vi.waitFor(() => expect(store.summaries.c2?.unreadCount).toBe(1));
    store.replaceSummaries([buildSummary('c3', buildUser('third'))]);
    expect(Object.keys(store.summaries)).toEqual(['c3']);
  });
});

describe('conversations store: opening while messages arrive', () => {
  it('keeps a live message that lands while the first page is loading', async () => {
    setActivePinia(createPinia());
    const client = installFakeClient(buildUser('me'));
    const store = useConversationsStore();
    store.replaceSummaries([buildSummary('c1', peer, { lastSeq: 2, readSeq: 2 })]);
    let answer: (page: Awaited<ReturnType<typeof client.conversations.history>>) => void = () => undefined;
    client.conversations.history.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));
    const opening = store.open('c1');
    await Promise.resolve();
    store.applyMessage(buildMessage('c1', 3, 'peer'));
    answer({ messages: [buildMessage('c1', 1, 'peer'), buildMessage('c1', 2, 'me')], hasMore: false, lastSeq: 2, earliestAvailableSeq: 1 });
    await opening;
    expect(store.messages.c1!.map((m) => m.seq)).toEqual([1, 2, 3]);
  });
});

describe('conversations store: messages an administrator removed', () => {
  let client: FakeClient;
  let store: ReturnType<typeof useConversationsStore>;
  const tombstone = (seq: number) => buildRemoved('c1', seq, 'peer');

  beforeEach(() => {
    vi.useFakeTimers();
    setActivePinia(createPinia());
    client = installFakeClient(buildUser('me'));
    store = useConversationsStore();
    store.replaceSummaries([buildSummary('c1', peer, { lastSeq: 3, readSeq: 1, unreadCount: 2 })]);
    store.messages.c1 = [1, 2, 3].map((seq) => buildMessage('c1', seq, 'peer'));
  });
  afterEach(() => vi.useRealTimers());

  it('the redaction record is never unread nor the preview; the message it names becomes a tombstone', async () => {
    const removed = tombstone(3);
    client.conversations.get.mockResolvedValueOnce(buildSummary('c1', peer, { lastSeq: 4, readSeq: 1, unreadCount: 1, lastMessage: removed }));
    store.summaries.c1!.lastMessage = buildMessage('c1', 3, 'peer');
    const { id, clientMsgId, createdAt } = buildMessage('c1', 4, 'admin');
    store.applyMessage({ id, conversationId: 'c1', seq: 4, senderId: 'admin', clientMsgId, createdAt, kind: 'redaction', removed });
    const summary = store.summaries.c1!;
    expect(summary.unreadCount).toBe(2);
    expect(summary.lastSeq).toBe(4);
    expect(summary.lastMessage).toMatchObject({ seq: 3, kind: 'removed' });
    expect(store.messages.c1!.find((m) => m.seq === 3)?.kind).toBe('removed');
    // The counts come from the server, fetched once for the live frame and the record together.
    store.applyRemoved(removed);
    await vi.advanceTimersByTimeAsync(100);
    expect(client.conversations.get).toHaveBeenCalledTimes(1);
    expect(store.summaries.c1!.unreadCount).toBe(1);
  });

  it('a history page with the tombstone replaces a copy loaded before the removal', async () => {
    const removed = tombstone(2);
    client.conversations.history.mockResolvedValueOnce({ messages: [buildMessage('c1', 1, 'peer'), removed, buildMessage('c1', 3, 'peer')], hasMore: false, lastSeq: 3, earliestAvailableSeq: 1 });
    await store.open('c1');
    expect(store.messages.c1!.map((m) => m.kind)).toEqual(['text', 'removed', 'text']);
  });
});
