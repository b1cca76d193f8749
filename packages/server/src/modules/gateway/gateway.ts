import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CLOSE_CODES, LIMITS, type ServerFrame } from '@kkchat/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Platform, Services } from '../../context.js';
import { AppError } from '../../errors.js';
import type { BusEvent } from '../../platform/events/event-bus.js';
import { logContext } from '../../platform/log-context.js';
import type { Connection } from './connection.js';
import { FrameDispatcher, MAX_RATE_VIOLATIONS, sessionEndClose } from './dispatcher.js';
import { fanOut } from './fan-out.js';
import { clientAddressOf, trustPredicate, type TrustPredicate } from '../../http/client-address.js';

/** Above this many buffered bytes a socket gets no typing/presence frames (they are only hints). */
const SHED_HINTS_BYTES = 1 << 20;
/** Above this the client is not reading: close it; it will reconnect and sync. */
const MAX_BUFFERED_BYTES = 8 << 20;
/** The standard WebSocket close code for an unexpected server condition; the client reconnects with backoff. */
const INTERNAL_ERROR_CLOSE = 1011;
/** Sessions per query of the heartbeat's session check. */
const SESSION_CHECK_BATCH = 500;
/** Close codes counted by their number in the metrics (1005: none given, 1006: dropped without a close). */
const KNOWN_CLOSE_CODES = new Set<number>([...Object.values(CLOSE_CODES), 1005, 1006, INTERNAL_ERROR_CLOSE]);

/**
 * The WebSocket gateway at /ws: handshake (origin check, auth as the first frame), the connection registry,
 * heartbeats, and delivery of bus events to the sockets this node holds.
 */
export class Gateway {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.wsMaxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  private readonly connections = new Map<string, Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly bySession = new Map<string, Set<Connection>>();
  private readonly dispatcher: FrameDispatcher;
  private readonly trust: TrustPredicate;
  private heartbeat: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private closing = false;
  /** A session check of the open sockets is running (one at a time). */
  private sweeping = false;
  /** The fan-out's view of the registry and its writer, bound once rather than per event. */
  private readonly socketsOf = (userId: string) => this.byUser.get(userId);
  private readonly writeTo = (conn: Connection, bytes: string, isHint: boolean) => this.write(conn, bytes, isHint);

  constructor(
    private readonly platform: Platform,
    private readonly services: Services,
  ) {
    this.trust = trustPredicate(platform.config.trustProxy);
    this.dispatcher = new FrameDispatcher(platform, services, {
      authenticated: (conn) => this.register(conn),
      send: (conn, frame) => this.send(conn, frame),
    });
  }

  attach(server: Server): void {
    server.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
    this.unsubscribe = this.platform.bus.subscribe((event) => this.onBusEvent(event));
    this.heartbeat = setInterval(() => this.beat(), this.platform.config.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Counts for tests and metrics: sockets, users and sessions indexed. All return to 0 when clients leave. */
  stats(): { connections: number; users: number; sessions: number; addresses: number } {
    return {
      connections: this.connections.size,
      users: this.byUser.size,
      sessions: this.bySession.size,
      addresses: this.platform.limiter.slotKeys,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unsubscribe?.();
    await Promise.all([...this.connections.values()].map((conn) => closeSocket(conn, CLOSE_CODES.GOING_AWAY, 'server shutting down')));
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /**
   * Graceful shutdown: no new sockets, no new frames; each socket is closed with SERVER_DRAINING once the sends
   * it had in flight are stored and acknowledged, in batches spread over `drainMs` so the clients do not all
   * land on the other nodes in the same instant. Deliveries keep flowing to sockets until they close.
   */
  async drain(drainMs: number): Promise<void> {
    this.closing = true;
    const all = [...this.connections.values()];
    for (const conn of all) conn.draining = true;
    const batches = Math.max(1, Math.min(all.length, Math.floor(drainMs / 50)));
    const size = Math.ceil(all.length / batches);
    const closed: Promise<void>[] = [];
    for (let start = 0; start < all.length; start += size) {
      for (const conn of all.slice(start, start + size)) {
        closed.push(conn.sendChain.catch(() => undefined).then(() => closeSocket(conn, CLOSE_CODES.SERVER_DRAINING, 'server draining; reconnect now')));
      }
      if (start + size < all.length) await new Promise((resolve) => setTimeout(resolve, drainMs / batches));
    }
    await Promise.all(closed);
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/ws') {
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (this.closing) {
      rejectUpgrade(socket, 503, 'Service Unavailable'); // draining: the client tries another node
      return;
    }
    // Browsers always send Origin; a page on another site must not ride on the user's network position
    // (BR-17). Native clients send none and authenticate with a token, which is not ambient.
    const origin = request.headers.origin;
    if (origin !== undefined && !this.platform.config.allowedOrigins.includes(origin)) {
      rejectUpgrade(socket, 403, 'Forbidden');
      return;
    }
    // One address may hold only so many sockets, authenticated or not, so it cannot use up the process's
    // file descriptors by itself (counted over every node in cluster mode).
    const ip = clientAddress(request, this.trust);
    let gone = false;
    socket.once('close', () => (gone = true));
    // Node removes its own error listener from an upgraded socket; until ws takes it over (after the slot
    // check), a reset by the client must not become an uncaught 'error'.
    socket.on('error', () => socket.destroy());
    this.platform.limiter.acquireSlot(`ws-ip:${ip}`, this.platform.config.wsMaxPerIp).then(
      (release) => {
        if (!release) {
          rejectUpgrade(socket, 429, 'Too Many Requests');
          return;
        }
        if (gone || this.closing) {
          release();
          if (!gone) rejectUpgrade(socket, 503, 'Service Unavailable');
          return;
        }
        socket.once('close', release);
        this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
      },
      (error: unknown) => {
        this.platform.log.error({ err: error }, 'socket slot check failed');
        rejectUpgrade(socket, 503, 'Service Unavailable');
      },
    );
  }

  private accept(ws: WebSocket): void {
    const now = this.platform.now();
    const { limits } = this.platform.config;
    const conn: Connection = {
      id: randomUUID(),
      ws,
      actor: null,
      auth: null,
      authTimer: null,
      alive: true,
      draining: false,
      sendChain: Promise.resolve(),
      frameTokens: limits.framesPerConnection.limit,
      frameTokensAt: now,
      typingTokens: limits.typingPerConnection.limit,
      typingTokensAt: now,
      violationTokens: MAX_RATE_VIOLATIONS,
      violationTokensAt: now,
    };
    this.connections.set(conn.id, conn);
    this.platform.metrics.wsOpened.inc();
    this.platform.log.debug({ connectionId: conn.id }, 'socket opened');
    conn.authTimer = setTimeout(() => {
      if (!conn.actor) ws.close(CLOSE_CODES.AUTH_TIMEOUT, 'authenticate within the timeout');
    }, this.platform.config.wsAuthTimeoutMs);

    ws.on('message', (data: RawData, isBinary: boolean) => {
      conn.alive = true;
      if (conn.draining) return; // shutting down: the client resends after reconnecting elsewhere
      // Frame handlers answer their own errors; anything that still escapes (a store failing while the socket
      // registers) must not become an unhandled rejection, which would end the process. Close this socket only.
      // What the frame causes is logged with the connection's id (and user, once known).
      const fields = conn.actor ? { connectionId: conn.id, userId: conn.actor.userId } : { connectionId: conn.id };
      logContext.run(fields, () => {
        this.dispatcher.dispatch(conn, data, isBinary).catch((error: unknown) => {
          this.platform.log.error({ err: error }, 'frame handling failed');
          conn.ws.close(INTERNAL_ERROR_CLOSE, 'internal error');
        });
      });
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    // ws answers an oversized frame by closing with 1009 and then emits 'error'; the close handler cleans up.
    ws.on('error', (error) => this.platform.log.debug({ err: error, connectionId: conn.id }, 'socket error'));
    ws.on('close', (code) => {
      // A client picks its own close code; only known ones become labels.
      this.platform.metrics.wsClosed.inc({ code: KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other' });
      this.platform.log.debug({ connectionId: conn.id, userId: conn.actor?.userId, code }, 'socket closed');
      this.unregister(conn);
    });
  }

  /** Indexes an authenticated connection and reports presence. Returns false if it closed meanwhile. */
  private async register(conn: Connection): Promise<boolean> {
    const actor = conn.actor;
    if (!actor || !this.connections.has(conn.id)) return false;
    addTo(this.byUser, actor.userId, conn);
    addTo(this.bySession, actor.sessionId, conn);
    // The session may have been revoked while the auth frame was checked; its close event would have found
    // no socket to close. Check once more now that the socket is indexed.
    try {
      await this.services.auth.authenticateSession(actor);
    } catch (error) {
      const ended = error instanceof AppError ? sessionEndClose(error.code) : null;
      conn.ws.close(ended?.code ?? CLOSE_CODES.AUTH_FAILED, ended?.reason ?? 'session ended');
      return false;
    }
    // The socket may have closed during the check; its unregister found no presence entry to remove, so
    // adding one now would leave the user online for good (BR-34, BR-41).
    if (!this.connections.has(conn.id)) return false;
    await this.services.presence.connected(actor.userId, conn.id);
    if (!this.connections.has(conn.id)) {
      // Closed while presence was being recorded: undo it (a no-op if unregister already did).
      await this.services.presence.disconnected(actor.userId, conn.id);
      return false;
    }
    // Calls: a ringing call reaches this device, and a device in a call that reconnects takes it back.
    this.services.calls.connected({ ...actor, connectionId: conn.id });
    return true;
  }

  private unregister(conn: Connection): void {
    if (conn.authTimer) clearTimeout(conn.authTimer);
    if (!this.connections.delete(conn.id)) return;
    const actor = conn.actor;
    if (!actor) return;
    removeFrom(this.byUser, actor.userId, conn);
    removeFrom(this.bySession, actor.sessionId, conn);
    // A call on this socket ends unless the device comes back within the grace period.
    this.services.calls.disconnected({ ...actor, connectionId: conn.id });
    this.services.presence.disconnected(actor.userId, conn.id).catch((error: unknown) => {
      this.platform.log.error({ err: error, userId: actor.userId }, 'presence update failed');
    });
  }

  private onBusEvent(event: BusEvent): void {
    switch (event.kind) {
      case 'deliver': {
        // Serialize once, send the same bytes to every recipient socket (fan-out.ts).
        const written = fanOut(event.frame, event.userIds, event.exceptConnectionId, this.socketsOf, this.writeTo);
        if (event.frame.type === 'message' && written > 0) this.countDeliveries(written, event.committedAt);
        break;
      }
      case 'deliver-connections': {
        const bytes = JSON.stringify(event.frame);
        for (const id of new Set(event.connectionIds)) {
          const conn = this.connections.get(id);
          if (conn?.actor) this.write(conn, bytes, false);
        }
        break;
      }
      case 'close-sessions':
        for (const sessionId of event.sessionIds) {
          for (const conn of [...(this.bySession.get(sessionId) ?? [])]) conn.ws.close(event.code, event.reason);
        }
        break;
      case 'close-user':
        for (const conn of [...(this.byUser.get(event.userId) ?? [])]) {
          if (conn.actor?.sessionId !== event.exceptSessionId) conn.ws.close(event.code, event.reason);
        }
        break;
    }
  }

  private send(conn: Connection, frame: ServerFrame): void {
    this.write(conn, JSON.stringify(frame), false);
  }

  /** Writes with backpressure: hints are shed first, then a socket that stays over its limit is closed. */
  private write(conn: Connection, bytes: string, isHint: boolean): boolean {
    const ws = conn.ws;
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.close(CLOSE_CODES.SLOW_CONSUMER, 'send buffer full; reconnect and sync');
      return false;
    }
    if (isHint && ws.bufferedAmount > SHED_HINTS_BYTES) return false;
    ws.send(bytes);
    return true;
  }

  /** Message frames written, and how long after their commit (the clock of the committing node). */
  private countDeliveries(count: number, committedAt: number | undefined): void {
    const { messagesDelivered, deliveryLatency } = this.platform.metrics;
    messagesDelivered.inc(count);
    if (committedAt === undefined) return;
    const seconds = Math.max(0, Date.now() - committedAt) / 1000;
    for (let i = 0; i < count; i++) deliveryLatency.observe(seconds);
  }

  /** A socket that answered no ping since the last beat is dead: drop it (offline within 2 beats). */
  private beat(): void {
    for (const conn of this.connections.values()) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
    void this.closeEndedSessions();
  }

  /**
   * The safety net behind the bus's close events (BR-14, BR-15): the sessions of the sockets this node holds are
   * checked in batched queries, and a socket whose session was revoked, or whose account was disabled or deleted,
   * is closed. So even a lost event leaves no socket open longer than one heartbeat.
   */
  private async closeEndedSessions(): Promise<void> {
    if (this.sweeping || this.bySession.size === 0) return;
    this.sweeping = true;
    try {
      const ids = [...this.bySession.keys()];
      for (let i = 0; i < ids.length; i += SESSION_CHECK_BATCH) {
        const ended = await this.services.auth.endedSessions(ids.slice(i, i + SESSION_CHECK_BATCH));
        for (const [sessionId, code] of ended) {
          const close = sessionEndClose(code);
          for (const conn of [...(this.bySession.get(sessionId) ?? [])]) conn.ws.close(close?.code ?? CLOSE_CODES.SESSION_REVOKED, close?.reason ?? 'session ended');
        }
      }
    } catch (error) {
      this.platform.log.warn({ err: error }, 'session check of open sockets failed');
    } finally {
      this.sweeping = false;
    }
  }
}

/** The client's address under KKCHAT_TRUST_PROXY, by the same rule as the HTTP API's (http/client-address.ts). */
function clientAddress(request: IncomingMessage, trust: TrustPredicate): string {
  return clientAddressOf(request.socket.remoteAddress, request.headers['x-forwarded-for'], trust);
}

/** Closes a socket with `code`, and terminates it if the client does not finish the closing handshake in 1 s. */
function closeSocket(conn: Connection, code: number, reason: string): Promise<void> {
  return new Promise<void>((resolve) => {
    if (conn.ws.readyState === conn.ws.CLOSED) return resolve();
    conn.ws.once('close', () => resolve());
    conn.ws.close(code, reason);
    setTimeout(() => {
      conn.ws.terminate();
      resolve();
    }, 1000).unref();
  });
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function addTo(index: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(conn);
}

function removeFrom(index: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(conn);
  if (set.size === 0) index.delete(key);
}
