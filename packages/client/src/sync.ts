import { LIMITS, type ConversationSummary, type HistoryQuery, type HistoryResponse, type Message } from '@kkchat/protocol';
import { backoffDelay, startTimer } from './backoff.js';

/** What the sync engine needs from the rest of the client (the seam its tests fake). */
export interface SyncDeps {
  listConversations(): Promise<ConversationSummary[]>;
  history(conversationId: string, query: HistoryQuery): Promise<HistoryResponse>;
  /** Called exactly once per (conversationId, seq), in seq order per conversation. */
  onMessage(message: Message): void;
  onConversations(conversations: ConversationSummary[]): void;
  /** The server no longer stores (fromSeq..toSeq); the cursor skipped past them. */
  onHistoryUnavailable(info: HistoryUnavailable): void;
  /** Wait this long for out-of-order frames before pulling a gap (default 100 ms). */
  gapFillDelayMs?: number;
  /** Retry pacing for a gap that could not be filled (network error, server not caught up). */
  retryDelay?: (attempt: number) => number;
}

/** Messages below earliestAvailableSeq that the server says it can no longer replay. */
export interface HistoryUnavailable {
  conversationId: string;
  fromSeq: number;
  toSeq: number;
}

/** Parallel history pulls during one sync. */
const SYNC_CONCURRENCY = 4;

/**
 * The sync engine (design notes §3). It holds one cursor per tracked conversation: the highest contiguous seq
 * the app has been given. Every message, live or pulled, goes through accept(): anything at or below the
 * cursor is a duplicate and dropped, the next seq is emitted, anything beyond waits in `pending` while the gap
 * is pulled with history(after=cursor). So the app sees each (conversationId, seq) once and in order.
 *
 * During a sync (after each auth.ok) live messages are buffered, the catch-up pulls run, then the buffer is
 * applied: registering for live events before pulling means nothing falls between the two.
 */
export class SyncEngine {
  private readonly cursors = new Map<string, number>();
  private readonly pending = new Map<string, Map<number, Message>>();
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly gapAttempts = new Map<string, number>();
  private buffer: Message[] = [];
  private syncing = false;
  private generation = 0;

  constructor(private readonly deps: SyncDeps) {}

  /** The cursor of a tracked conversation, undefined when untracked. */
  cursor(conversationId: string): number | undefined {
    return this.cursors.get(conversationId);
  }

  /** True between run() starting and its catch-up finishing. */
  get isSyncing(): boolean {
    return this.syncing;
  }

  /**
   * Starts tracking (or moves forward) a conversation's cursor: the app holds every message up to lastSeq.
   * A cursor never moves back, since that would emit messages the app was already given.
   */
  track(conversationId: string, lastSeq: number): void {
    const current = this.cursors.get(conversationId);
    if (current !== undefined && current >= lastSeq) return;
    this.cursors.set(conversationId, lastSeq);
    this.drain(conversationId);
    this.ensureGapFill(conversationId);
  }

  /** Stops tracking: later live messages start tracking afresh (the app reloads history itself). */
  untrack(conversationId: string): void {
    this.cursors.delete(conversationId);
    this.pending.delete(conversationId);
    this.clearGapTimer(conversationId);
    this.gapAttempts.delete(conversationId);
  }

  /** Forgets everything (sign-out). */
  reset(): void {
    this.generation++;
    for (const id of [...this.gapTimers.keys()]) this.clearGapTimer(id);
    this.cursors.clear();
    this.pending.clear();
    this.gapAttempts.clear();
    this.buffer = [];
    this.syncing = false;
  }

  /** A live message (push or the ack of our own send). */
  handleLive(message: Message): void {
    if (this.syncing) {
      this.buffer.push(message);
      return;
    }
    this.accept(message);
    this.ensureGapFill(message.conversationId);
  }

  /**
   * One sync after (re)connecting: list conversations, pull every tracked one up to its lastSeq, then apply the
   * live messages buffered meanwhile. Rejects when a request fails (the caller reconnects and syncs again).
   * A run overtaken by a newer one returns without touching the buffer.
   */
  async run(): Promise<ConversationSummary[]> {
    const generation = ++this.generation;
    this.syncing = true;
    const conversations = await this.deps.listConversations();
    if (generation !== this.generation) return conversations;
    this.deps.onConversations(conversations);
    const behind = conversations.filter((c) => {
      const cursor = this.cursors.get(c.id);
      return cursor !== undefined && c.lastSeq > cursor;
    });
    for (let i = 0; i < behind.length; i += SYNC_CONCURRENCY) {
      await Promise.all(behind.slice(i, i + SYNC_CONCURRENCY).map((c) => this.pull(c.id, c.lastSeq)));
      if (generation !== this.generation) return conversations;
    }
    this.syncing = false;
    const buffered = this.buffer;
    this.buffer = [];
    for (const message of buffered) this.accept(message);
    for (const id of [...this.pending.keys()]) this.ensureGapFill(id);
    return conversations;
  }

  private accept(message: Message): void {
    const id = message.conversationId;
    const cursor = this.cursors.get(id);
    if (cursor === undefined) {
      // Untracked: the app has not loaded this conversation; start tracking here, it loads older history itself.
      this.cursors.set(id, message.seq);
      this.deps.onMessage(message);
      return;
    }
    if (message.seq <= cursor) return;
    if (message.seq === cursor + 1) {
      this.cursors.set(id, message.seq);
      this.deps.onMessage(message);
      this.drain(id);
      return;
    }
    let waiting = this.pending.get(id);
    if (!waiting) this.pending.set(id, (waiting = new Map()));
    waiting.set(message.seq, message);
  }

  /** Emits the pending messages that became contiguous and drops the ones at or below the cursor. */
  private drain(id: string): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    let cursor = this.cursors.get(id) ?? 0;
    for (const seq of waiting.keys()) if (seq <= cursor) waiting.delete(seq);
    for (let next = waiting.get(cursor + 1); next; next = waiting.get(cursor + 1)) {
      waiting.delete(next.seq);
      cursor = next.seq;
      this.cursors.set(id, cursor);
      this.deps.onMessage(next);
    }
    if (waiting.size === 0) this.pending.delete(id);
  }

  private hasGap(id: string): boolean {
    return (this.pending.get(id)?.size ?? 0) > 0;
  }

  /** Schedules a pull for a gap, after a short wait in case the missing frames are merely late. */
  private ensureGapFill(id: string, delayMs = this.deps.gapFillDelayMs ?? 100): void {
    if (this.syncing || !this.hasGap(id) || this.pulls.has(id) || this.gapTimers.has(id)) return;
    this.gapTimers.set(
      id,
      startTimer(() => {
        this.gapTimers.delete(id);
        if (!this.hasGap(id) || this.syncing) return;
        this.pull(id, 0).catch(() => undefined);
      }, delayMs),
    );
  }

  private clearGapTimer(id: string): void {
    const timer = this.gapTimers.get(id);
    if (timer) clearTimeout(timer);
    this.gapTimers.delete(id);
  }

  /** Pulls history for one conversation; pulls of the same conversation run one after another. */
  private pull(id: string, untilSeq: number): Promise<void> {
    const previous = this.pulls.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.pullLoop(id, untilSeq));
    this.pulls.set(id, next);
    const settle = (failed: boolean): void => {
      if (this.pulls.get(id) !== next) return;
      this.pulls.delete(id);
      if (!this.hasGap(id)) {
        this.gapAttempts.delete(id);
        return;
      }
      // The gap is still open (request failed, or the server had not caught up): try again later.
      const attempt = (this.gapAttempts.get(id) ?? 0) + 1;
      this.gapAttempts.set(id, attempt);
      const delay = this.deps.retryDelay?.(attempt) ?? backoffDelay(attempt);
      this.ensureGapFill(id, failed ? Math.max(delay, 1) : delay);
    };
    next.then(
      () => settle(false),
      () => settle(true),
    );
    return next;
  }

  private async pullLoop(id: string, untilSeq: number): Promise<void> {
    const target = (): number => {
      let max = untilSeq;
      for (const seq of this.pending.get(id)?.keys() ?? []) if (seq > max) max = seq;
      return max;
    };
    for (;;) {
      const after = this.cursors.get(id);
      if (after === undefined || after >= target()) return;
      const page = await this.deps.history(id, { after, limit: LIMITS.historyPageMax });
      if (this.cursors.get(id) !== after) continue; // a live message or track() moved the cursor meanwhile
      if (page.earliestAvailableSeq > after + 1) {
        // The server says these are gone: skip them explicitly instead of waiting for them forever.
        this.cursors.set(id, page.earliestAvailableSeq - 1);
        this.deps.onHistoryUnavailable({ conversationId: id, fromSeq: after + 1, toSeq: page.earliestAvailableSeq - 1 });
      }
      for (const message of page.messages) if (message.conversationId === id) this.accept(message);
      this.drain(id);
      const progressed = (this.cursors.get(id) ?? 0) > after;
      if (!progressed || !page.hasMore) return;
    }
  }
}
