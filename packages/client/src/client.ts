import {
  CLOSE_CODES,
  MarkReadResponseSchema,
  checkMessageText,
  type AttachmentKind,
  type FileInfo,
  type MarkReadResponse,
  type Message,
  type ServerFrame,
  type UserPublic,
} from '@kkchat/protocol';
import { ApiError } from './errors.js';
import { backoffDelay } from './backoff.js';
import { HttpClient } from './http.js';
import { Realtime, toApiError, type ConnectionState, type WebSocketCtor } from './realtime.js';
import { SyncEngine } from './sync.js';
import { Outbox, type MentionOptions, type OutboxEntry } from './outbox.js';
import { createGroupsApi, type GroupsApi } from './groups.js';
import { createFilesApi, type FilesApi } from './files.js';
import { Emitter } from './emitter.js';
import { callEvent, createCallsApi, type CallsApi } from './calls.js';
import { createAdminApi, type AdminApi } from './admin.js';
import type { ClientEvents, KKChatClientOptions } from './options.js';
import { newClientMsgId, webSocketUrl } from './util.js';
import {
  createAuthApi,
  createContactsApi,
  createConversationsApi,
  createUsersApi,
  type ApiHooks,
  type AuthApi,
  type ContactsApi,
  type ConversationsApi,
  type UsersApi,
} from './api.js';

const TYPING_THROTTLE_MS = 3_000;

/**
 * The KKChat SDK: REST namespaces (auth, users, contacts, conversations), one WebSocket connection that
 * reconnects and resyncs by itself, and a retrying outbox. Messages reach the app through the 'message' event
 * exactly once and in order per conversation, whether they came live, from a gap fill or from a sync.
 */
export class KKChatClient {
  readonly auth: AuthApi;
  readonly users: UsersApi;
  readonly contacts: ContactsApi;
  readonly conversations: ConversationsApi;
  /** Call signaling (the app owns the media). */
  readonly calls: CallsApi;
  readonly groups: GroupsApi;
  /** The admin API (accounts with the role `admin`). */
  readonly admin: AdminApi;
  /** Uploads (resumable, with progress), signed download links, avatars. */
  readonly files: FilesApi;

  private readonly opts: KKChatClientOptions;
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly http: HttpClient;
  private readonly realtime: Realtime;
  private readonly sync: SyncEngine;
  private readonly outboxQueue: Outbox;
  private userValue: UserPublic | null = null;
  /** The last signed-in user, kept across expiry so pending messages survive signing back in. */
  private ownerId: string | null = null;
  private closeReason: ApiError | null = null;
  private connectWaiters: Array<{ resolve(): void; reject(err: unknown): void }> = [];
  private readonly typingSentAt = new Map<string, number>();

  constructor(opts: KKChatClientOptions) {
    this.opts = opts;
    const timeoutMs = opts.requestTimeoutMs ?? 15_000;
    const retryDelay = (attempt: number): number => backoffDelay(attempt, opts.reconnect);
    this.http = new HttpClient({
      baseUrl: opts.baseUrl,
      fetch: opts.fetch,
      cookieMode: opts.cookieMode,
      tokenStore: opts.tokenStore,
      requestTimeoutMs: timeoutMs,
      validateResponses: opts.validateResponses,
      onSession: (auth) => this.adoptUser(auth.user),
      onAuthExpired: (code) => this.authExpired(code),
    });
    const WebSocketImpl = opts.WebSocket ?? (globalThis.WebSocket as WebSocketCtor | undefined);
    this.realtime = new Realtime({
      url: () => webSocketUrl(opts.baseUrl),
      WebSocket: WebSocketImpl ?? missingWebSocket,
      getToken: async (force) => {
        try {
          return await this.http.freshAccessToken(force);
        } catch (err) {
          // A 401 here ends the connection attempt for good; connect() reports why.
          if (err instanceof ApiError && err.status === 401) this.closeReason ??= err;
          throw err;
        }
      },
      onState: (state) => this.stateChanged(state),
      onAuthenticated: async () => {
        await this.sync.run();
      },
      onOnline: () => {
        this.emitter.emit('synced', undefined);
        this.outboxQueue.resume();
      },
      onFrame: (frame) => this.dispatch(frame),
      onDown: () => this.outboxQueue.suspend(),
      onSessionRevoked: (code, reason) => {
        this.closeReason = ApiError.of(
          code === CLOSE_CODES.ACCOUNT_DISABLED ? 'ACCOUNT_DISABLED' : code === CLOSE_CODES.ACCOUNT_DELETED ? 'ACCOUNT_DELETED' : 'SESSION_REVOKED',
        );
        this.http.clearSession();
        this.userValue = null;
        this.emitter.emit('session.revoked', { code, reason });
      },
      onBadFrame: (error) => this.emitter.emit('error', error),
      backoff: opts.reconnect,
      handshakeTimeoutMs: timeoutMs,
      validateFrames: opts.validateResponses ?? true,
    });
    this.sync = new SyncEngine({
      listConversations: () => this.conversations.list(),
      history: (id, query) => this.conversations.history(id, query),
      onMessage: (message) => {
        // A message of ours pulled by a sync settles its entry even if the ack was lost with the socket.
        if (message.senderId === this.ownerId) this.outboxQueue.handleAck(message);
        this.emitter.emit('message', message);
        // The timeline's record of a removal (live or pulled by a catch-up) removes the copy the app holds.
        if (message.kind === 'redaction') this.emitter.emit('message.removed', message.removed);
      },
      onConversations: (list) => this.emitter.emit('conversations', list),
      onHistoryUnavailable: (info) => this.emitter.emit('history.unavailable', info),
      gapFillDelayMs: opts.gapFillDelayMs,
      retryDelay,
    });
    this.outboxQueue = new Outbox({
      canSend: () => this.realtime.state === 'online',
      transmit: (frame) => {
        this.realtime.send(frame);
      },
      nextRid: () => this.realtime.nextRid(),
      onUpdate: (entry) => this.emitter.emit('outbox', entry),
      ackTimeoutMs: opts.ackTimeoutMs ?? 10_000,
      retryDelay,
    });
    const hooks: ApiHooks = {
      deviceName: opts.deviceName,
      onSignedOut: () => this.signedOut(),
      onUser: (user) => this.adoptUser(user),
      onSentViaRest: (response) => this.sync.handleLive(response.message),
      markRead: (id, seq) => this.markRead(id, seq),
    };
    this.auth = createAuthApi(this.http, hooks);
    this.users = createUsersApi(this.http, hooks);
    this.contacts = createContactsApi(this.http);
    this.conversations = createConversationsApi(this.http, hooks);
    this.calls = createCallsApi(this.http, this.realtime, opts.requestTimeoutMs ?? 15_000);
    this.groups = createGroupsApi(this.http);
    this.admin = createAdminApi(this.http);
    this.files = createFilesApi(this.http, { onUser: (user) => this.adoptUser(user), backoff: opts.reconnect });
  }

  /** The signed-in user, null when signed out. */
  get user(): UserPublic | null {
    return this.userValue;
  }

  get state(): ConnectionState {
    return this.realtime.state;
  }

  get accessToken(): string | null {
    return this.http.accessToken;
  }

  /**
   * Opens the WebSocket (ws:// or wss:// from baseUrl or the page location), authenticates, syncs and resolves
   * once online. Transient failures are retried with backoff while the promise stays pending; it rejects when
   * the client closes for good first (disconnect(), not signed in, session revoked or expired).
   */
  connect(): Promise<void> {
    if (this.realtime.state === 'online') return Promise.resolve();
    if (!this.opts.WebSocket && !globalThis.WebSocket) {
      return Promise.reject(new Error('KKChatClient: no WebSocket available; pass options.WebSocket (e.g. from "ws")'));
    }
    try {
      webSocketUrl(this.opts.baseUrl);
    } catch (err) {
      return Promise.reject(err);
    }
    const ready = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    this.closeReason = null;
    this.realtime.start();
    return ready;
  }

  /** Reconnects at once instead of waiting out the backoff (no-op unless a reconnect is waiting). */
  reconnectNow(): void {
    this.realtime.retryNow();
  }

  /** Closes the socket and stops reconnecting. Outbox entries stay queued for the next connect(). */
  disconnect(): void {
    this.closeReason = ApiError.client('DISCONNECTED', 'disconnect() was called.');
    this.realtime.stop();
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof ClientEvents>(event: E, handler: (payload: ClientEvents[E]) => void): () => void {
    return this.emitter.on(event, handler);
  }

  /**
   * Queues a text message and returns its outbox entry (state 'sending'); progress arrives as 'outbox' events.
   * Throws ApiError TEXT_EMPTY / TEXT_TOO_LONG before queuing anything.
   */
  sendText(conversationId: string, text: string, mentions: MentionOptions = {}): OutboxEntry {
    const problem = checkMessageText(text);
    if (problem) throw ApiError.of(problem);
    return this.outboxQueue.add(conversationId, text, newClientMsgId(), mentions);
  }

  /**
   * Queues a file message (image, file, audio or video) for a file already uploaded with `files.upload`; it then
   * behaves like a text message in the outbox (order, retries with the same clientMsgId, 'outbox' events).
   */
  sendFile(conversationId: string, kind: AttachmentKind, file: FileInfo, options: { durationMs?: number } = {}): OutboxEntry {
    return this.outboxQueue.addContent(conversationId, { kind, file, ...options }, newClientMsgId());
  }

  /** sendFile, then resolves with the stored message on ack. */
  sendFileAndWait(conversationId: string, kind: AttachmentKind, file: FileInfo, options: { durationMs?: number } = {}): Promise<Message> {
    return this.outboxQueue.waitFor(this.sendFile(conversationId, kind, file, options).clientMsgId);
  }

  /** Moves a failed entry back to sending (behind the conversation's other queued messages). */
  retry(clientMsgId: string): void {
    this.outboxQueue.retry(clientMsgId);
  }

  /** Drops an entry from the outbox. */
  discard(clientMsgId: string): void {
    this.outboxQueue.discard(clientMsgId);
  }

  /** Entries not yet acknowledged (sending or failed), oldest first. */
  outbox(conversationId?: string): OutboxEntry[] {
    return this.outboxQueue.list(conversationId);
  }

  /** sendText, then resolves with the stored message on ack; rejects with the ApiError if it fails. */
  sendAndWait(conversationId: string, text: string, mentions: MentionOptions = {}): Promise<Message> {
    const entry = this.sendText(conversationId, text, mentions);
    return this.outboxQueue.waitFor(entry.clientMsgId);
  }

  /** Tells the peer the user is typing: at most once per 3 s per conversation, dropped when not online. */
  typing(conversationId: string): void {
    if (this.realtime.state !== 'online') return;
    const now = Date.now();
    const last = this.typingSentAt.get(conversationId);
    if (last !== undefined && now - last < TYPING_THROTTLE_MS) return;
    if (this.typingSentAt.size > 100) {
      for (const [id, at] of this.typingSentAt) if (now - at >= TYPING_THROTTLE_MS) this.typingSentAt.delete(id);
    }
    this.typingSentAt.set(conversationId, now);
    this.realtime.send({ type: 'typing', conversationId });
  }

  /**
   * Sets a conversation's sync cursor: the app holds every message up to lastSeq (call after loading history).
   * The cursor only moves forward; later messages arrive through 'message'.
   */
  trackConversation(conversationId: string, lastSeq: number): void {
    this.sync.track(conversationId, lastSeq);
  }

  /** Stops syncing a conversation (e.g. the app dropped it from memory). */
  untrackConversation(conversationId: string): void {
    this.sync.untrack(conversationId);
  }

  /** The sync cursor of a conversation, undefined when untracked. */
  cursor(conversationId: string): number | undefined {
    return this.sync.cursor(conversationId);
  }

  private async markRead(conversationId: string, seq: number): Promise<MarkReadResponse> {
    const cursor = this.sync.cursor(conversationId);
    // Over the socket when it reads everything this client has: then nothing is unread as far as it knows.
    // A partial read needs the server's count, which only the REST answer carries.
    if (this.realtime.state === 'online' && cursor !== undefined && seq >= cursor) {
      try {
        const reply = await this.realtime.request(
          { type: 'read', rid: this.realtime.nextRid(), conversationId, seq },
          this.opts.requestTimeoutMs ?? 15_000,
        );
        if (reply.type === 'read.ok') return { readSeq: reply.readSeq, unreadCount: 0 };
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 0) throw err;
        // The socket went away: fall back to REST below.
      }
    }
    return this.http.request('POST', `/conversations/${encodeURIComponent(conversationId)}/read`, {
      body: { seq },
      schema: MarkReadResponseSchema,
    });
  }

  private dispatch(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
        this.sync.handleLive(frame.message);
        break;
      case 'ack':
        this.outboxQueue.handleAck(frame.message);
        // The acking device gets no push of its own message: the ack is its live copy (cursor, 'message').
        this.sync.handleLive(frame.message);
        break;
      case 'error': {
        const error = toApiError(frame);
        if (!(frame.rid !== undefined && this.outboxQueue.handleError(frame.rid, error))) this.emitter.emit('error', error);
        break;
      }
      case 'read':
        this.emitter.emit('read', { conversationId: frame.conversationId, userId: frame.userId, seq: frame.seq });
        break;
      case 'typing':
        this.emitter.emit('typing', { conversationId: frame.conversationId, userId: frame.userId });
        break;
      case 'presence':
        this.emitter.emit('presence', { userId: frame.userId, online: frame.online, lastSeenAt: frame.lastSeenAt });
        break;
      case 'friend.request':
        this.emitter.emit('friend.request', frame.request);
        break;
      case 'contact.added':
        this.emitter.emit('contact.added', frame.contact);
        break;
      case 'contact.removed':
        this.emitter.emit('contact.removed', { userId: frame.userId });
        break;
      case 'group.updated':
        this.emitter.emit('group.updated', { conversationId: frame.conversationId });
        break;
      case 'group.removed':
        this.emitter.emit('group.removed', { conversationId: frame.conversationId, reason: frame.reason });
        break;
      case 'message.removed':
        this.emitter.emit('message.removed', frame.message);
        break;
      case 'account.updated':
        this.emitter.emit('account.updated', { role: frame.role });
        break;
      case 'user.updated':
        if (frame.user.id === this.userValue?.id) this.userValue = frame.user;
        this.emitter.emit('user.updated', frame.user);
        break;
      default: {
        // Call frames become call events; auth.ok, pong, read.ok are handled by the connection.
        const event = callEvent(frame);
        if (event) this.emitter.emit(event[0], event[1] as never);
        break;
      }
    }
  }

  private stateChanged(state: ConnectionState): void {
    this.emitter.emit('state', state);
    if (state === 'online') {
      const waiters = this.connectWaiters;
      this.connectWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    } else if (state === 'closed') {
      const waiters = this.connectWaiters;
      this.connectWaiters = [];
      const reason = this.closeReason ?? ApiError.client('DISCONNECTED', 'The connection was closed.');
      for (const waiter of waiters) waiter.reject(reason);
    }
  }

  private adoptUser(user: UserPublic): void {
    if (this.ownerId !== null && this.ownerId !== user.id) {
      // Another account on this client: the previous one's cursors and unsent messages are not theirs.
      this.resetLocalState();
    }
    this.ownerId = user.id;
    this.userValue = user;
  }

  private authExpired(code: string | null): void {
    this.userValue = null;
    this.closeReason = ApiError.of('UNAUTHENTICATED', 'The session has expired; sign in again.');
    if (this.realtime.state !== 'idle' && this.realtime.state !== 'closed') this.realtime.stop();
    this.emitter.emit('auth.expired', { code });
  }

  private signedOut(): void {
    this.closeReason = ApiError.client('DISCONNECTED', 'Signed out.');
    this.realtime.stop();
    this.userValue = null;
    this.ownerId = null;
    this.resetLocalState();
  }

  private resetLocalState(): void {
    this.sync.reset();
    this.outboxQueue.clear();
    this.typingSentAt.clear();
  }
}

/** Stand-in when no WebSocket exists; connect() reports the problem before this is ever called. */
const missingWebSocket = function (): never {
  throw new Error('KKChatClient: no WebSocket available; pass options.WebSocket');
} as unknown as WebSocketCtor;
