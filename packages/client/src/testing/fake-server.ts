/**
 * An in-memory KKChat server speaking the protocol, for the SDK's unit tests. It keeps what the delivery
 * guarantee needs (per-conversation seq, clientMsgId dedupe, history paging, read cursors, token refresh) and
 * has hooks for faults: lost pushes, lost acks, error answers, dead sockets, forced closes.
 * Not a reference for the real server's rules (no friendship, blocks or rate limits).
 */
import type { AuthResult, ClientFrame, ConversationSummary, Message, ServerFrame, UserPublic } from '@kkchat/protocol';

/** One server-side connection; the transport (in-memory or real `ws`) delivers text both ways. */
export interface ServerTransport {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface FakeConnection {
  readonly id: number;
  userId: string | null;
  sessionId: string | null;
  transport: ServerTransport;
  /** When true, nothing more reaches the client (a dead path the OS has not noticed). */
  blackholed: boolean;
}

interface Account {
  user: UserPublic;
  password: string;
}

interface Conversation {
  id: string;
  members: [string, string];
  messages: Message[];
  reads: Map<string, number>;
}

type SendHook = (frame: Extract<ClientFrame, { type: 'send' }>, conn: FakeConnection) =>
  | { error: { code: string; message?: string; retryAfterMs?: number } }
  | 'store-no-ack'
  | 'ignore'
  | undefined;

export class FakeServer {
  heartbeatMs = 10_000;
  accessTokenTtlMs = 15 * 60_000;
  readonly connections = new Set<FakeConnection>();
  readonly requests: Array<{ method: string; path: string; body: unknown; auth: string | null }> = [];
  readonly frames: Array<{ connId: number; frame: ClientFrame }> = [];
  /** Return false to drop a push (not acks or replies) to a connection. */
  deliverPush: (frame: ServerFrame, conn: FakeConnection) => boolean = () => true;
  onSend: SendHook = () => undefined;
  /** Called before each REST request is handled; return a Response to answer it instead. */
  intercept: (method: string, path: string) => Response | undefined = () => undefined;
  private readonly accounts = new Map<string, Account>();
  private readonly accessTokens = new Map<string, { userId: string; sessionId: string; expiresAt: number }>();
  private readonly refreshTokens = new Map<string, { userId: string; sessionId: string }>();
  private readonly revokedSessions = new Set<string>();
  private readonly conversations = new Map<string, Conversation>();
  private nextId = 1;

  private id(prefix: string): string {
    return `${prefix}${this.nextId++}`;
  }

  /** Creates an account directly (no HTTP). */
  addUser(username: string, password = 'password123'): UserPublic {
    const user: UserPublic = { id: this.id('u'), username, displayName: username, bio: '', avatar: '', createdAt: Date.now() };
    this.accounts.set(username, { user, password });
    return user;
  }

  /** Creates a direct conversation between two users; returns its id. */
  createDirect(a: string, b: string): string {
    const id = this.id('c');
    this.conversations.set(id, { id, members: [a, b], messages: [], reads: new Map() });
    return id;
  }

  messages(conversationId: string): Message[] {
    return this.conversation(conversationId).messages;
  }

  /** Stores a message from a user as if sent elsewhere; pushes it unless push is false. */
  postMessage(conversationId: string, senderId: string, text: string, push = true): Message {
    const message = this.store(conversationId, senderId, `srv-${this.nextId++}`, text);
    if (push) this.pushToMembers(conversationId, { type: 'message', message });
    return message;
  }

  /** Makes every issued access token answer TOKEN_EXPIRED. */
  expireAccessTokens(): void {
    for (const token of this.accessTokens.values()) token.expiresAt = 0;
  }

  /** Revokes a session: its tokens stop working and its sockets close with 4003. */
  revokeSession(sessionId: string): void {
    this.revokedSessions.add(sessionId);
    for (const conn of this.connections) if (conn.sessionId === sessionId) this.closeConnection(conn, 4003, 'session revoked');
  }

  closeConnection(conn: FakeConnection, code: number, reason: string): void {
    this.connections.delete(conn);
    conn.transport.close(code, reason);
  }

  /** Closes every socket of a user (or all) with a code. */
  closeAll(code = 1001, reason = 'going away', userId?: string): void {
    for (const conn of [...this.connections]) if (!userId || conn.userId === userId) this.closeConnection(conn, code, reason);
  }

  // ---- WebSocket side ----

  attach(transport: ServerTransport): { receive(text: string): void; closed(): void; conn: FakeConnection } {
    const conn: FakeConnection = { id: this.nextId++, userId: null, sessionId: null, transport, blackholed: false };
    this.connections.add(conn);
    return {
      conn,
      receive: (text) => this.receive(conn, text),
      closed: () => {
        this.connections.delete(conn);
      },
    };
  }

  private push(conn: FakeConnection, frame: ServerFrame): void {
    if (!conn.blackholed && this.connections.has(conn)) conn.transport.send(JSON.stringify(frame));
  }

  private pushToMembers(conversationId: string, frame: ServerFrame, except?: FakeConnection): void {
    const { members } = this.conversation(conversationId);
    for (const conn of this.connections) {
      if (conn === except || !conn.userId || !members.includes(conn.userId)) continue;
      if (this.deliverPush(frame, conn)) this.push(conn, frame);
    }
  }

  private receive(conn: FakeConnection, text: string): void {
    const frame = JSON.parse(text) as ClientFrame;
    this.frames.push({ connId: conn.id, frame });
    if (conn.blackholed) return;
    if (!conn.userId) {
      if (frame.type !== 'auth') return this.closeConnection(conn, 4004, 'auth required');
      const token = this.accessTokens.get(frame.token);
      if (!token || token.expiresAt < Date.now() || this.revokedSessions.has(token.sessionId)) {
        return this.closeConnection(conn, 4002, 'auth failed');
      }
      conn.userId = token.userId;
      conn.sessionId = token.sessionId;
      return this.push(conn, {
        type: 'auth.ok',
        userId: token.userId,
        sessionId: token.sessionId,
        heartbeatMs: this.heartbeatMs,
        serverTime: Date.now(),
      });
    }
    switch (frame.type) {
      case 'ping':
        return this.push(conn, { type: 'pong', rid: frame.rid, serverTime: Date.now() });
      case 'typing':
        return this.pushToMembers(frame.conversationId, { type: 'typing', conversationId: frame.conversationId, userId: conn.userId }, conn);
      case 'read': {
        const conversation = this.conversation(frame.conversationId);
        const readSeq = Math.max(conversation.reads.get(conn.userId) ?? 0, frame.seq);
        conversation.reads.set(conn.userId, readSeq);
        this.push(conn, { type: 'read.ok', rid: frame.rid, conversationId: frame.conversationId, readSeq });
        return this.pushToMembers(frame.conversationId, { type: 'read', conversationId: frame.conversationId, userId: conn.userId, seq: readSeq }, conn);
      }
      case 'send':
        return this.handleSend(conn, frame);
      default:
        return this.push(conn, { type: 'error', code: 'ALREADY_AUTHENTICATED', message: 'already authenticated' });
    }
  }

  private handleSend(conn: FakeConnection, frame: Extract<ClientFrame, { type: 'send' }>): void {
    const userId = conn.userId as string;
    const hook = this.onSend(frame, conn);
    if (hook === 'ignore') return;
    if (hook && typeof hook === 'object') {
      return this.push(conn, { type: 'error', rid: frame.rid, message: hook.error.message ?? hook.error.code, ...hook.error });
    }
    const conversation = this.conversations.get(frame.conversationId);
    if (!conversation || !conversation.members.includes(userId)) {
      return this.push(conn, { type: 'error', rid: frame.rid, code: 'CONVERSATION_NOT_FOUND', message: 'No such conversation.' });
    }
    const existing = conversation.messages.find((m) => m.senderId === userId && m.clientMsgId === frame.clientMsgId);
    if (existing) {
      if (hook !== 'store-no-ack') this.push(conn, { type: 'ack', rid: frame.rid, message: existing, duplicate: true });
      return;
    }
    const message = this.store(frame.conversationId, userId, frame.clientMsgId, frame.kind === 'text' ? frame.text : '');
    if (hook !== 'store-no-ack') this.push(conn, { type: 'ack', rid: frame.rid, message, duplicate: false });
    this.pushToMembers(frame.conversationId, { type: 'message', message }, conn);
  }

  private store(conversationId: string, senderId: string, clientMsgId: string, text: string): Message {
    const conversation = this.conversation(conversationId);
    const message: Message = {
      id: this.id('m'),
      conversationId,
      seq: conversation.messages.length + 1,
      senderId,
      clientMsgId,
      createdAt: Date.now(),
      kind: 'text',
      text,
    };
    conversation.messages.push(message);
    return message;
  }

  private conversation(id: string): Conversation {
    const conversation = this.conversations.get(id);
    if (!conversation) throw new Error(`fake server: no conversation ${id}`);
    return conversation;
  }

  // ---- HTTP side ----

  /** A fetch implementation answering `/api/v1/...` from this server. */
  readonly fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init.method ?? 'GET';
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    const headers = new Headers(init.headers);
    const auth = headers.get('authorization');
    this.requests.push({ method, path, body, auth });
    await new Promise((resolve) => setTimeout(resolve, 0));
    const intercepted = this.intercept(method, path);
    if (intercepted) return intercepted;
    try {
      return json(200, this.route(method, path, url.searchParams, body ?? {}, auth));
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, { error: { code: err.code, message: err.code } });
      throw err;
    }
  };

  private route(method: string, path: string, query: URLSearchParams, body: Record<string, unknown>, auth: string | null): unknown {
    if (method === 'POST' && path === '/auth/login') {
      const account = this.accounts.get(String(body.username));
      if (!account || account.password !== body.password) throw new HttpError(401, 'INVALID_CREDENTIALS');
      return this.issue(account.user.id, this.id('s'));
    }
    if (method === 'POST' && path === '/auth/refresh') {
      const current = this.refreshTokens.get(String(body.refreshToken));
      if (!current || this.revokedSessions.has(current.sessionId)) throw new HttpError(401, 'REFRESH_TOKEN_INVALID');
      this.refreshTokens.delete(String(body.refreshToken));
      return this.issue(current.userId, current.sessionId);
    }
    const token = auth ? this.accessTokens.get(auth.replace(/^Bearer /, '')) : undefined;
    if (!token) throw new HttpError(401, 'UNAUTHENTICATED');
    if (this.revokedSessions.has(token.sessionId)) throw new HttpError(401, 'SESSION_REVOKED');
    if (token.expiresAt < Date.now()) throw new HttpError(401, 'TOKEN_EXPIRED');
    const userId = token.userId;
    if (method === 'GET' && path === '/users/me') return { user: this.userById(userId) };
    if (method === 'POST' && path === '/auth/logout') {
      this.revokeSession(token.sessionId);
      return {};
    }
    if (method === 'GET' && path === '/conversations') {
      const list = [...this.conversations.values()].filter((c) => c.members.includes(userId));
      return { conversations: list.map((c) => this.summary(c, userId)) };
    }
    const match = /^\/conversations\/([^/]+)\/(messages|read)$/.exec(path);
    const conversation = match ? this.conversations.get(decodeURIComponent(match[1] as string)) : undefined;
    if (!match || !conversation) throw new HttpError(404, 'ROUTE_NOT_FOUND');
    if (!conversation.members.includes(userId)) throw new HttpError(404, 'CONVERSATION_NOT_FOUND');
    if (match[2] === 'read' && method === 'POST') {
      const readSeq = Math.max(conversation.reads.get(userId) ?? 0, Number(body.seq));
      conversation.reads.set(userId, readSeq);
      return { readSeq, unreadCount: this.summary(conversation, userId).unreadCount };
    }
    if (method === 'POST') {
      const existing = conversation.messages.find((m) => m.senderId === userId && m.clientMsgId === body.clientMsgId);
      if (existing) return { message: existing, duplicate: true };
      const message = this.store(conversation.id, userId, String(body.clientMsgId), String(body.text));
      this.pushToMembers(conversation.id, { type: 'message', message });
      return { message, duplicate: false };
    }
    return this.history(conversation, query);
  }

  private history(conversation: Conversation, query: URLSearchParams): unknown {
    const limit = Number(query.get('limit') ?? 50);
    const after = query.has('after') ? Number(query.get('after')) : undefined;
    const before = query.has('before') ? Number(query.get('before')) : undefined;
    const all = conversation.messages;
    let page: Message[];
    let hasMore: boolean;
    if (after !== undefined) {
      const newer = all.filter((m) => m.seq > after && (before === undefined || m.seq < before));
      page = newer.slice(0, limit);
      hasMore = newer.length > limit;
    } else {
      const older = all.filter((m) => before === undefined || m.seq < before);
      page = older.slice(-limit);
      hasMore = older.length > limit;
    }
    return { messages: page, hasMore, lastSeq: all.length, earliestAvailableSeq: all.length ? 1 : 0 };
  }

  private summary(c: Conversation, userId: string): ConversationSummary {
    const peerId = c.members[0] === userId ? c.members[1] : c.members[0];
    const readSeq = c.reads.get(userId) ?? 0;
    return {
      id: c.id,
      kind: 'direct',
      peer: this.userById(peerId),
      lastSeq: c.messages.length,
      readSeq,
      peerReadSeq: c.reads.get(peerId) ?? 0,
      unreadCount: c.messages.filter((m) => m.seq > readSeq && m.senderId !== userId).length,
      lastMessage: c.messages.at(-1) ?? null,
      updatedAt: c.messages.at(-1)?.createdAt ?? 0,
    };
  }

  private userById(id: string): UserPublic {
    for (const account of this.accounts.values()) if (account.user.id === id) return account.user;
    throw new HttpError(404, 'USER_NOT_FOUND');
  }

  private issue(userId: string, sessionId: string): AuthResult {
    const accessToken = this.id('at-');
    const refreshToken = this.id('rt-');
    const accessTokenExpiresAt = Date.now() + this.accessTokenTtlMs;
    this.accessTokens.set(accessToken, { userId, sessionId, expiresAt: accessTokenExpiresAt });
    this.refreshTokens.set(refreshToken, { userId, sessionId });
    return {
      user: this.userById(userId),
      sessionId,
      accessToken,
      accessTokenExpiresAt,
      refreshToken,
      refreshTokenExpiresAt: Date.now() + 30 * 86_400_000,
      role: 'user',
    };
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}
