import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { LIMITS, type ConversationSummary, type Message, type RemovedMessage, type UserPublic } from '@kkchat/protocol';
import { getClient, type OutboxEntry } from '../sdk';
import type { MentionOptions } from '@kkchat/client';
import { mergeMessages, replaceMessage } from '../lib/messages';

/** How long "… is typing" stays up after the last typing event. */
export const TYPING_VISIBLE_MS = 4_000;

interface Paging {
  hasMore: boolean;
  earliestAvailableSeq: number;
  loadingOlder: boolean;
}

function sortKey(summary: ConversationSummary): number {
  return summary.lastMessage?.createdAt ?? summary.updatedAt;
}

/**
 * Conversation summaries (list, previews, unread counts, read cursors), the loaded messages of each
 * conversation (sorted and deduped by seq), pending outbox entries and typing state.
 */
export const useConversationsStore = defineStore('conversations', () => {
  const summaries = ref<Record<string, ConversationSummary>>({});
  const messages = ref<Record<string, Message[]>>({});
  const paging = ref<Record<string, Paging>>({});
  const outbox = ref<Record<string, OutboxEntry[]>>({});
  const typingUntil = ref<Record<string, number>>({});
  /** Who typed last in each conversation (a group shows their name). */
  const typingUser = ref<Record<string, string>>({});
  /** Where the "New messages" divider goes: the first unread seq when the chat was opened. */
  const unreadFrom = ref<Record<string, number>>({});
  /** The conversation shown in the chat pane, and whether the page is visible to the user. */
  const activeId = ref<string | null>(null);
  const pageVisible = ref(typeof document === 'undefined' || document.visibilityState === 'visible');
  const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** A summary refetch pending per conversation (after a removal). */
  const summaryRefresh = new Map<string, ReturnType<typeof setTimeout>>();

  const ordered = computed(() => Object.values(summaries.value).sort((a, b) => sortKey(b) - sortKey(a)));
  const totalUnread = computed(() => ordered.value.reduce((sum, s) => sum + s.unreadCount, 0));

  function myId(): string | undefined {
    return getClient().user?.id;
  }

  function reset(): void {
    summaries.value = {};
    messages.value = {};
    paging.value = {};
    outbox.value = {};
    typingUntil.value = {};
    unreadFrom.value = {};
    activeId.value = null;
    for (const timer of typingTimers.values()) clearTimeout(timer);
    typingTimers.clear();
    for (const timer of summaryRefresh.values()) clearTimeout(timer);
    summaryRefresh.clear();
  }

  function isWatching(conversationId: string): boolean {
    return activeId.value === conversationId && pageVisible.value;
  }

  function upsertSummary(summary: ConversationSummary): void {
    summaries.value[summary.id] = summary;
  }

  /** The SDK's `conversations` event and the initial load carry the whole list: it replaces ours. */
  function replaceSummaries(list: readonly ConversationSummary[]): void {
    summaries.value = Object.fromEntries(list.map((summary) => [summary.id, summary]));
    if (activeId.value) void markReadIfWatching(activeId.value);
  }

  async function load(): Promise<void> {
    replaceSummaries(await getClient().conversations.list());
  }

  async function ensureSummary(conversationId: string): Promise<ConversationSummary | undefined> {
    const known = summaries.value[conversationId];
    if (known) return known;
    const summary = await getClient().conversations.get(conversationId);
    upsertSummary(summary);
    return summaries.value[conversationId];
  }

  // ---- read state ----
  /** Moves my read cursor to the newest loaded message when the chat is on screen. */
  async function markReadIfWatching(conversationId: string): Promise<void> {
    const summary = summaries.value[conversationId];
    if (!summary || !isWatching(conversationId)) return;
    const newest = Math.max(summary.lastSeq, messages.value[conversationId]?.at(-1)?.seq ?? 0);
    if (newest <= summary.readSeq && summary.unreadCount === 0) return;
    summary.readSeq = Math.max(summary.readSeq, newest);
    summary.unreadCount = 0;
    if (summary.mentionCount) summary.mentionCount = 0;
    try {
      await getClient().conversations.markRead(conversationId, summary.readSeq);
    } catch {
      // A failed read mark is harmless: the next message or visit marks it again.
    }
  }

  function setPageVisible(visible: boolean): void {
    pageVisible.value = visible;
    if (visible && activeId.value) void markReadIfWatching(activeId.value);
  }

  // ---- live events ----
  function applyMessage(message: Message): void {
    if (message.kind === 'redaction') {
      applyRedaction(message);
      return;
    }
    const conversationId = message.conversationId;
    if (messages.value[conversationId]) {
      messages.value[conversationId] = mergeMessages(messages.value[conversationId], [message]);
    }
    const summary = summaries.value[conversationId];
    if (!summary) {
      // A conversation we have not listed yet (first message from a new friend): fetch its summary.
      void ensureSummary(conversationId).catch(() => undefined);
      return;
    }
    const isNew = message.seq > summary.lastSeq;
    if (isNew) {
      summary.lastSeq = message.seq;
      summary.lastMessage = message;
      summary.updatedAt = Math.max(summary.updatedAt, message.createdAt);
    }
    if (message.senderId === myId()) return;
    clearTyping(conversationId);
    if (message.seq <= summary.readSeq) return;
    if (isWatching(conversationId)) void markReadIfWatching(conversationId);
    else if (isNew) {
      summary.unreadCount += 1;
      // A group message naming me (or everyone) also counts as a mention.
      const me = myId();
      if (message.kind === 'text' && (message.mentionAll || (me !== undefined && message.mentions?.includes(me)))) {
        summary.mentionCount = (summary.mentionCount ?? 0) + 1;
      }
    }
  }

  /**
   * The timeline's record of a removal: it takes a seq (so reading moves past it) but is never shown, unread or
   * the preview; the message it names becomes a tombstone.
   */
  function applyRedaction(record: Extract<Message, { kind: 'redaction' }>): void {
    const { conversationId } = record;
    if (messages.value[conversationId]) messages.value[conversationId] = mergeMessages(messages.value[conversationId], [record]);
    const summary = summaries.value[conversationId];
    if (summary && record.seq > summary.lastSeq) summary.lastSeq = record.seq;
    applyRemoved(record.removed);
  }

  /**
   * An administrator removed a message: the copy we hold becomes the tombstone, and the summary is fetched again
   * (the server's unread and mention counts no longer count it). The live frame and the redaction record both
   * lead here; the refetch runs once for both.
   */
  function applyRemoved(tombstone: RemovedMessage): void {
    const { conversationId } = tombstone;
    if (messages.value[conversationId]) messages.value[conversationId] = replaceMessage(messages.value[conversationId], tombstone);
    const summary = summaries.value[conversationId];
    if (!summary) return;
    if (summary.lastMessage?.seq === tombstone.seq) summary.lastMessage = tombstone;
    clearTimeout(summaryRefresh.get(conversationId));
    summaryRefresh.set(
      conversationId,
      setTimeout(() => {
        summaryRefresh.delete(conversationId);
        void getClient()
          .conversations.get(conversationId)
          .then((fresh) => {
            if (summaries.value[conversationId]) upsertSummary(fresh);
          })
          .catch(() => undefined);
      }, 50),
    );
  }

  /** A read cursor moved: mine on another device, or the peer's (read receipts). */
  function applyRead(event: { conversationId: string; userId: string; seq: number }): void {
    const summary = summaries.value[event.conversationId];
    if (!summary) return;
    if (event.userId === myId()) {
      if (event.seq <= summary.readSeq) return;
      summary.readSeq = event.seq;
      summary.unreadCount = Math.max(0, Math.min(summary.unreadCount, summary.lastSeq - event.seq));
    } else {
      summary.peerReadSeq = Math.max(summary.peerReadSeq, event.seq);
    }
  }

  function clearTyping(conversationId: string): void {
    clearTimeout(typingTimers.get(conversationId));
    typingTimers.delete(conversationId);
    delete typingUntil.value[conversationId];
  }

  function applyTyping(event: { conversationId: string; userId: string }): void {
    if (event.userId === myId()) return;
    const { conversationId } = event;
    typingUntil.value[conversationId] = Date.now() + TYPING_VISIBLE_MS;
    typingUser.value[conversationId] = event.userId;
    clearTimeout(typingTimers.get(conversationId));
    typingTimers.set(conversationId, setTimeout(() => clearTyping(conversationId), TYPING_VISIBLE_MS));
  }

  /** Outbox entries are shown after the stored messages until the server acknowledges them. */
  function applyOutbox(entry: OutboxEntry): void {
    const { conversationId } = entry;
    const pending = (outbox.value[conversationId] ?? []).filter((e) => e.clientMsgId !== entry.clientMsgId);
    if (entry.state === 'sent') {
      if (entry.message) applyMessage(entry.message);
    } else {
      pending.push(entry);
    }
    outbox.value[conversationId] = pending;
  }

  function applyUserUpdated(user: UserPublic): void {
    for (const summary of Object.values(summaries.value)) {
      if (summary.peer?.id === user.id) summary.peer = user;
    }
  }

  // ---- opening a chat and paging ----
  /** Shows a conversation: latest page, then live tracking from its last seq, then read. */
  async function open(conversationId: string): Promise<void> {
    activeId.value = conversationId;
    const client = getClient();
    // Collect live messages from now on: one that lands while the page is in flight (seq above the page's
    // lastSeq) is not emitted again by the SDK, whose cursor has already passed it.
    messages.value[conversationId] ??= [];
    const opened = await ensureSummary(conversationId);
    if (opened && opened.unreadCount > 0) unreadFrom.value[conversationId] = opened.readSeq + 1;
    else delete unreadFrom.value[conversationId];
    const page = await client.conversations.history(conversationId, { limit: LIMITS.historyPageDefault });
    messages.value[conversationId] = mergeMessages(messages.value[conversationId] ?? [], page.messages);
    paging.value[conversationId] = {
      hasMore: page.hasMore,
      earliestAvailableSeq: page.earliestAvailableSeq,
      loadingOlder: false,
    };
    client.trackConversation(conversationId, page.lastSeq);
    outbox.value[conversationId] = client.outbox(conversationId).filter((entry) => entry.state !== 'sent');
    const summary = summaries.value[conversationId];
    if (summary && page.lastSeq > summary.lastSeq) summary.lastSeq = page.lastSeq;
    await markReadIfWatching(conversationId);
  }

  function close(conversationId: string): void {
    if (activeId.value === conversationId) activeId.value = null;
  }

  /** Loads the page before the oldest loaded message; resolves to the number of messages added. */
  async function loadOlder(conversationId: string): Promise<number> {
    const state = paging.value[conversationId];
    const oldest = messages.value[conversationId]?.[0];
    if (!state || !state.hasMore || state.loadingOlder || !oldest) return 0;
    state.loadingOlder = true;
    try {
      const page = await getClient().conversations.history(conversationId, {
        before: oldest.seq,
        limit: LIMITS.historyPageDefault,
      });
      const before = messages.value[conversationId]?.length ?? 0;
      messages.value[conversationId] = mergeMessages(messages.value[conversationId] ?? [], page.messages);
      state.hasMore = page.hasMore;
      state.earliestAvailableSeq = page.earliestAvailableSeq;
      return (messages.value[conversationId]?.length ?? 0) - before;
    } finally {
      state.loadingOlder = false;
    }
  }

  // ---- sending ----
  function send(conversationId: string, text: string, mentions: MentionOptions = {}): OutboxEntry {
    const entry = getClient().sendText(conversationId, text, mentions);
    applyOutbox(entry);
    return entry;
  }

  function retry(entry: OutboxEntry): void {
    getClient().retry(entry.clientMsgId);
  }

  function discard(entry: OutboxEntry): void {
    getClient().discard(entry.clientMsgId);
    outbox.value[entry.conversationId] = (outbox.value[entry.conversationId] ?? []).filter(
      (e) => e.clientMsgId !== entry.clientMsgId,
    );
  }

  return {
    summaries,
    messages,
    paging,
    outbox,
    typingUntil,
    typingUser,
    unreadFrom,
    activeId,
    pageVisible,
    ordered,
    totalUnread,
    reset,
    load,
    replaceSummaries,
    upsertSummary,
    markReadIfWatching,
    setPageVisible,
    applyMessage,
    applyRemoved,
    applyRead,
    applyTyping,
    applyOutbox,
    applyUserUpdated,
    open,
    close,
    loadOlder,
    send,
    retry,
    discard,
  };
});
