import type { AttachmentKind, FileInfo, Message } from '@kkchat/protocol';
import { ApiError, PERMANENT_SEND_ERRORS } from './errors.js';
import { backoffDelay, startTimer } from './backoff.js';

/** A message the user sent, from the moment it is queued until the server acknowledged it (or refused it). */
export interface OutboxEntry {
  clientMsgId: string;
  conversationId: string;
  /** The text ('' for a file message). */
  text: string;
  kind: 'text' | AttachmentKind;
  /** File messages: the uploaded file (rendered while pending) and, for audio and video, its length. */
  file?: FileInfo;
  durationMs?: number;
  /** Group messages: mentioned members and @all. */
  mentions?: string[];
  mentionAll?: boolean;
  state: 'sending' | 'sent' | 'failed';
  /** Transmissions so far (a resend after a timeout or reconnect counts again). */
  attempts: number;
  error?: { code: string; message: string };
  /** The stored message, once acknowledged. */
  message?: Message;
  createdAt: number;
}

/** Who a group message mentions (user ids) and whether it mentions everyone. */
export interface MentionOptions {
  mentions?: string[];
  mentionAll?: boolean;
}

/** What a queued message says: text (with mentions), or an uploaded file as one of the attachment kinds. */
export type OutboxContent =
  | { kind: 'text'; text: string; mentions?: string[]; mentionAll?: boolean }
  | { kind: AttachmentKind; file: FileInfo; durationMs?: number };

/** The `send` frame the outbox transmits. */
export type SendFrame = { type: 'send'; rid: string; conversationId: string; clientMsgId: string } & (
  | { kind: 'text'; text: string; mentions?: string[]; mentionAll?: boolean }
  | { kind: AttachmentKind; fileId: string; durationMs?: number }
);

/** What the outbox needs from the connection (the seam its tests fake). */
export interface OutboxDeps {
  /** True when frames may be sent (state online). */
  canSend(): boolean;
  /** Transmits a frame on the current socket. */
  transmit(frame: SendFrame): void;
  nextRid(): string;
  /** Receives a snapshot each time an entry is created or changes state. */
  onUpdate(entry: OutboxEntry): void;
  ackTimeoutMs: number;
  retryDelay?: (attempt: number) => number;
}

/** Server errors (INTERNAL, SERVICE_UNAVAILABLE, unknown codes) tolerated per entry before it is marked failed. */
const MAX_SERVER_ERRORS = 5;

interface Record_ {
  entry: OutboxEntry;
  serverErrors: number;
}

interface Inflight {
  clientMsgId: string;
  rid: string;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The retrying outbox. Per conversation one entry is in flight at a time, so messages keep the order the user
 * typed them in even across timeouts, reconnects and rate limits. Every resend uses the same clientMsgId, which
 * the server deduplicates (answering duplicate: true), so a retry never stores a message twice.
 */
export class Outbox {
  private readonly records = new Map<string, Record_>();
  /** clientMsgIds in state 'sending', per conversation, oldest first. */
  private readonly queues = new Map<string, string[]>();
  private readonly inflight = new Map<string, Inflight>();
  private readonly rids = new Map<string, string>();
  /** Conversations paused after RATE_LIMITED or a server error. */
  private readonly holds = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly waiters = new Map<string, Array<{ resolve(m: Message): void; reject(e: unknown): void }>>();

  constructor(private readonly deps: OutboxDeps) {}

  /** Queues a text message (the caller has validated the text) and sends it when possible. */
  add(conversationId: string, text: string, clientMsgId: string, mentions: MentionOptions = {}): OutboxEntry {
    return this.addContent(conversationId, { kind: 'text', text, ...mentions }, clientMsgId);
  }

  /** Queues a message of any kind and sends it when possible. */
  addContent(conversationId: string, content: OutboxContent, clientMsgId: string): OutboxEntry {
    const fields =
      content.kind === 'text'
        ? {
            kind: 'text' as const,
            text: content.text,
            ...(content.mentions?.length ? { mentions: content.mentions } : {}),
            ...(content.mentionAll ? { mentionAll: true } : {}),
          }
        : { kind: content.kind, text: '', file: content.file, ...(content.durationMs !== undefined ? { durationMs: content.durationMs } : {}) };
    const entry: OutboxEntry = { clientMsgId, conversationId, ...fields, state: 'sending', attempts: 0, createdAt: Date.now() };
    this.records.set(clientMsgId, { entry, serverErrors: 0 });
    this.enqueue(entry);
    this.deps.onUpdate({ ...entry });
    this.pump(conversationId);
    return { ...entry };
  }

  /** Snapshots of the unacknowledged entries, in creation order. */
  list(conversationId?: string): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const { entry } of this.records.values()) {
      if (conversationId === undefined || entry.conversationId === conversationId) out.push({ ...entry });
    }
    return out;
  }

  /** Moves a failed entry back to sending, behind the conversation's queued messages. */
  retry(clientMsgId: string): void {
    const record = this.records.get(clientMsgId);
    if (!record || record.entry.state !== 'failed') return;
    record.entry.state = 'sending';
    delete record.entry.error;
    record.serverErrors = 0;
    this.enqueue(record.entry);
    this.deps.onUpdate({ ...record.entry });
    this.pump(record.entry.conversationId);
  }

  /**
   * Forgets an entry. A message already in flight may still be stored by the server; it then arrives as a
   * normal message.
   */
  discard(clientMsgId: string): void {
    const record = this.records.get(clientMsgId);
    if (!record) return;
    const conversationId = record.entry.conversationId;
    this.records.delete(clientMsgId);
    this.dequeue(record.entry);
    const flight = this.inflight.get(conversationId);
    if (flight?.clientMsgId === clientMsgId) this.land(conversationId);
    this.settleWaiters(clientMsgId, undefined, ApiError.client('DISCARDED', 'The message was discarded.'));
    this.pump(conversationId);
  }

  /** Resolves with the stored message once acknowledged; rejects when the entry fails or is discarded. */
  waitFor(clientMsgId: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      let list = this.waiters.get(clientMsgId);
      if (!list) this.waiters.set(clientMsgId, (list = []));
      list.push({ resolve, reject });
    });
  }

  /**
   * An `ack` frame, matched by clientMsgId rather than rid, so a late ack of an earlier attempt still counts.
   * Also used when a sync pulls a message this device sent but never saw acknowledged. Returns true when it
   * settled an entry.
   */
  handleAck(message: Message): boolean {
    const record = this.records.get(message.clientMsgId);
    if (!record || record.entry.conversationId !== message.conversationId) return false;
    const { entry } = record;
    if (this.inflight.get(entry.conversationId)?.clientMsgId === entry.clientMsgId) this.land(entry.conversationId);
    this.dequeue(entry);
    entry.state = 'sent';
    entry.message = message;
    delete entry.error;
    this.deps.onUpdate({ ...entry });
    // No unbounded growth: a sent entry is dropped once its ack has been reported.
    this.records.delete(entry.clientMsgId);
    this.settleWaiters(entry.clientMsgId, message);
    this.pump(entry.conversationId);
    return true;
  }

  /** An `error` frame answering a send. Returns false when the rid is not an outstanding send of ours. */
  handleError(rid: string, error: ApiError): boolean {
    const clientMsgId = this.rids.get(rid);
    if (clientMsgId === undefined) return false;
    const record = this.records.get(clientMsgId);
    const conversationId = record?.entry.conversationId;
    if (!record || conversationId === undefined) return false;
    this.land(conversationId);
    const { entry } = record;
    if (error.code === 'RATE_LIMITED') {
      this.hold(conversationId, error.retryAfterMs ?? 1000);
      return true;
    }
    if (PERMANENT_SEND_ERRORS.has(error.code) || ++record.serverErrors >= MAX_SERVER_ERRORS) {
      this.dequeue(entry);
      entry.state = 'failed';
      entry.error = { code: error.code, message: error.message };
      this.deps.onUpdate({ ...entry });
      this.settleWaiters(entry.clientMsgId, undefined, error);
      this.pump(conversationId);
      return true;
    }
    // A transient server error: pause this conversation and resend the same entry.
    this.hold(conversationId, this.deps.retryDelay?.(record.serverErrors) ?? backoffDelay(record.serverErrors));
    return true;
  }

  /** The connection became usable: send the head of every queue. */
  resume(): void {
    for (const conversationId of this.queues.keys()) this.pump(conversationId);
  }

  /** The socket dropped: nothing is in flight any more; entries stay 'sending' and go out after reconnect. */
  suspend(): void {
    for (const conversationId of [...this.inflight.keys()]) this.land(conversationId);
    for (const timer of this.holds.values()) clearTimeout(timer);
    this.holds.clear();
  }

  /** Forgets every entry (another account signed in); waiters are rejected. */
  clear(): void {
    this.suspend();
    const ids = [...this.records.keys()];
    this.records.clear();
    this.queues.clear();
    for (const id of ids) this.settleWaiters(id, undefined, ApiError.client('DISCARDED', 'Signed out.'));
  }

  private enqueue(entry: OutboxEntry): void {
    let queue = this.queues.get(entry.conversationId);
    if (!queue) this.queues.set(entry.conversationId, (queue = []));
    if (!queue.includes(entry.clientMsgId)) queue.push(entry.clientMsgId);
  }

  private dequeue(entry: OutboxEntry): void {
    const queue = this.queues.get(entry.conversationId);
    if (!queue) return;
    const index = queue.indexOf(entry.clientMsgId);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(entry.conversationId);
  }

  /** Clears the in-flight slot of a conversation. */
  private land(conversationId: string): void {
    const flight = this.inflight.get(conversationId);
    if (!flight) return;
    clearTimeout(flight.timer);
    this.rids.delete(flight.rid);
    this.inflight.delete(conversationId);
  }

  private hold(conversationId: string, delayMs: number): void {
    const existing = this.holds.get(conversationId);
    if (existing) clearTimeout(existing);
    this.holds.set(
      conversationId,
      startTimer(() => {
        this.holds.delete(conversationId);
        this.pump(conversationId);
      }, Math.max(0, delayMs)),
    );
  }

  /** Sends the head of a conversation's queue when nothing is in flight there. */
  private pump(conversationId: string): void {
    if (!this.deps.canSend() || this.inflight.has(conversationId) || this.holds.has(conversationId)) return;
    const head = this.queues.get(conversationId)?.[0];
    const record = head === undefined ? undefined : this.records.get(head);
    if (!record) return;
    const { entry } = record;
    const rid = this.deps.nextRid();
    const timer = startTimer(() => {
      // No ack in time: resend the same clientMsgId (the server dedupes). A dead socket is found by the
      // heartbeat; this covers a lost frame or a stalled server.
      if (this.inflight.get(conversationId)?.rid !== rid) return;
      this.land(conversationId);
      this.pump(conversationId);
    }, this.deps.ackTimeoutMs);
    this.inflight.set(conversationId, { clientMsgId: entry.clientMsgId, rid, timer });
    this.rids.set(rid, entry.clientMsgId);
    entry.attempts++;
    const envelope = { type: 'send' as const, rid, conversationId, clientMsgId: entry.clientMsgId };
    this.deps.transmit(
      entry.kind === 'text' || !entry.file
        ? {
            ...envelope,
            kind: 'text',
            text: entry.text,
            ...(entry.mentions ? { mentions: entry.mentions } : {}),
            ...(entry.mentionAll ? { mentionAll: true } : {}),
          }
        : { ...envelope, kind: entry.kind, fileId: entry.file.id, ...(entry.durationMs !== undefined ? { durationMs: entry.durationMs } : {}) },
    );
  }

  private settleWaiters(clientMsgId: string, message?: Message, error?: unknown): void {
    const list = this.waiters.get(clientMsgId);
    if (!list) return;
    this.waiters.delete(clientMsgId);
    for (const waiter of list) {
      if (message) waiter.resolve(message);
      else waiter.reject(error);
    }
  }
}
