import { CLOSE_CODES, ServerFrameSchema, TERMINAL_CLOSE_CODES, type ClientFrame, type ServerFrame } from '@kkchat/protocol';
import { ApiError, statusOf } from './errors.js';
import { backoffDelay, startInterval, startTimer, type BackoffOptions } from './backoff.js';

/** Handler property type, declared bivariant so that both the DOM WebSocket and `ws` fit WebSocketLike. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API the SDK uses: satisfied by the browser's WebSocket and by the `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from the `ws` package in Node. */
export type WebSocketCtor = new (url: string) => WebSocketLike;

/** Connection states, in the order a healthy connection passes through them. */
export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'syncing' | 'online' | 'reconnecting' | 'closed';

export type AuthOkFrame = Extract<ServerFrame, { type: 'auth.ok' }>;

/** What the connection needs from the client (the seam its tests fake). */
export interface RealtimeDeps {
  /** The `/ws` address, computed when each socket opens. */
  url: () => string;
  WebSocket: WebSocketCtor;
  /** A valid access token; `force` after the server refused one (4002). Rejects with 401 when signed out. */
  getToken(force: boolean): Promise<string>;
  onState(state: ConnectionState): void;
  /** Runs the sync; the connection goes online when it resolves and reconnects when it rejects. */
  onAuthenticated(frame: AuthOkFrame): Promise<void>;
  onOnline(): void;
  /** Every frame after auth.ok that is not the reply to a request(). */
  onFrame(frame: ServerFrame): void;
  /** The socket is gone (whatever comes next). */
  onDown(): void;
  onSessionRevoked(code: number, reason: string): void;
  /** A frame that is not valid JSON or does not match the protocol. */
  onBadFrame(error: ApiError): void;
  backoff?: BackoffOptions;
  /** Open + auth.ok must complete within this time. */
  handshakeTimeoutMs: number;
  validateFrames: boolean;
}

const OPEN = 1;
/** Close code the client uses when it abandons a socket it considers dead. */
const CLIENT_DROP_CODE = 4000;
const noop = (): void => undefined;
const KNOWN_FRAME_TYPES: ReadonlySet<string> = new Set(ServerFrameSchema.options.map((option) => option.shape.type.value));

interface PendingRequest {
  resolve(frame: ServerFrame): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One logical connection to `/ws` that survives sockets: it authenticates each socket, keeps it alive with
 * heartbeats, and reconnects with backoff (except after SESSION_REVOKED or when the session cannot be
 * refreshed).
 */
export class Realtime {
  private ws: WebSocketLike | null = null;
  private stateValue: ConnectionState = 'idle';
  private wanted = false;
  private authenticated = false;
  private attempt = 0;
  private forceRefresh = false;
  /** Bumped by every open() and stop(): an open() that awaited a token and was overtaken gives up. */
  private openEpoch = 0;
  private ridCounter = 0;
  private lastInboundAt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private readonly pending = new Map<string, PendingRequest>();

  constructor(private readonly deps: RealtimeDeps) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** A fresh request id for frames whose reply should be matched. */
  nextRid(): string {
    return `r${++this.ridCounter}`;
  }

  /** Starts connecting (no-op when already started). */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.attempt = 0;
    void this.open();
  }

  /**
   * Skips the wait before the next reconnect attempt (a "retry now" button, the browser coming back online).
   * Does nothing unless a reconnect is waiting.
   */
  retryNow(): void {
    if (!this.wanted || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.open();
  }

  /** Closes the socket and stops reconnecting; state becomes 'closed'. */
  stop(): void {
    this.wanted = false;
    this.openEpoch++;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const hadSocket = this.ws !== null;
    this.abandonSocket(1000, 'client disconnect');
    if (hadSocket) this.deps.onDown();
    this.setState('closed');
  }

  /** Sends a frame on the authenticated socket; false when there is none (the frame is dropped). */
  send(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || !this.authenticated || ws.readyState !== OPEN) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a frame with a rid and resolves with the reply carrying it (an error frame rejects as ApiError). */
  request(frame: ClientFrame & { rid: string }, timeoutMs: number): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      if (!this.send(frame)) {
        reject(ApiError.client('CONNECTION_LOST', 'Not connected.'));
        return;
      }
      const timer = startTimer(() => {
        this.pending.delete(frame.rid);
        reject(ApiError.client('TIMEOUT', `No reply to ${frame.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(frame.rid, { resolve, reject, timer });
    });
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.deps.onState(state);
  }

  private async open(): Promise<void> {
    this.reconnectTimer = null;
    if (!this.wanted) return;
    const epoch = ++this.openEpoch;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let token: string;
    try {
      token = await this.deps.getToken(this.forceRefresh);
      this.forceRefresh = false;
    } catch (err) {
      if (!this.wanted || epoch !== this.openEpoch) return;
      // 401: the session is over (the HTTP layer has reported auth.expired); anything else: try again later.
      if (err instanceof ApiError && err.status === 401) this.stop();
      else this.scheduleReconnect();
      return;
    }
    // disconnect() + connect() while the token was being fetched: a newer open() owns the connection now.
    if (!this.wanted || epoch !== this.openEpoch) return;
    let ws: WebSocketLike;
    try {
      ws = new this.deps.WebSocket(this.deps.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.authenticated = false;
    this.handshakeTimer = startTimer(() => this.drop('handshake timeout'), this.deps.handshakeTimeoutMs);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState('authenticating');
      ws.send(JSON.stringify({ type: 'auth', token } satisfies ClientFrame));
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this.receive(event.data);
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.closed(event.code, event.reason);
    };
    // An error is always followed by close, which decides what happens next.
    ws.onerror = noop;
  }

  private receive(data: unknown): void {
    this.lastInboundAt = Date.now();
    const frame = this.parse(data);
    if (!frame) return;
    if (!this.authenticated) {
      if (frame.type === 'auth.ok') this.authenticatedWith(frame);
      else if (frame.type === 'error') this.deps.onBadFrame(toApiError(frame));
      return;
    }
    if ('rid' in frame && frame.rid !== undefined) {
      const waiting = this.pending.get(frame.rid);
      if (waiting) {
        this.pending.delete(frame.rid);
        clearTimeout(waiting.timer);
        if (frame.type === 'error') waiting.reject(toApiError(frame));
        else waiting.resolve(frame);
        if (frame.type !== 'ack') return;
      }
    }
    this.deps.onFrame(frame);
  }

  private parse(data: unknown): ServerFrame | null {
    let raw: unknown;
    try {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer);
      raw = JSON.parse(text);
    } catch (err) {
      this.deps.onBadFrame(ApiError.client('BAD_RESPONSE', 'A WebSocket frame is not JSON.', err));
      return null;
    }
    // A frame type from a newer server: ignore it quietly (forward compatibility).
    if (!KNOWN_FRAME_TYPES.has((raw as { type?: unknown } | null)?.type as string)) return null;
    if (!this.deps.validateFrames) return raw as ServerFrame;
    const parsed = ServerFrameSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.deps.onBadFrame(ApiError.client('BAD_RESPONSE', 'A WebSocket frame does not match the protocol.', parsed.error));
    return null;
  }

  private authenticatedWith(frame: AuthOkFrame): void {
    const ws = this.ws;
    this.authenticated = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.startHeartbeat(frame.heartbeatMs);
    this.setState('syncing');
    this.deps.onAuthenticated(frame).then(
      () => {
        if (this.ws !== ws || !this.wanted) return;
        this.attempt = 0;
        this.setState('online');
        this.deps.onOnline();
      },
      (err: unknown) => {
        if (this.ws !== ws || !this.wanted) return;
        if (err instanceof ApiError && err.status === 401) this.stop();
        else this.drop('sync failed');
      },
    );
  }

  /**
   * The server pings at the protocol level (browsers answer by themselves but do not surface it), so the
   * client also sends app-level pings: their pongs prove the path works both ways. Silence for 2x heartbeatMs
   * means the socket is dead even if the OS has not noticed.
   */
  private startHeartbeat(heartbeatMs: number): void {
    this.stopHeartbeat();
    let sinceLastPing = 0;
    const tick = Math.max(10, Math.floor(heartbeatMs / 4));
    this.heartbeatTimer = startInterval(() => {
      if (Date.now() - this.lastInboundAt > 2 * heartbeatMs) {
        this.drop('heartbeat timeout');
        return;
      }
      sinceLastPing += tick;
      if (sinceLastPing >= heartbeatMs) {
        sinceLastPing = 0;
        this.send({ type: 'ping', rid: this.nextRid() });
      }
    }, tick);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /** Gives up on the current socket at once (dead or stuck) and reconnects. */
  private drop(reason: string): void {
    if (!this.ws) return;
    this.closed(CLIENT_DROP_CODE, reason);
  }

  private closed(code: number, reason: string): void {
    this.abandonSocket(CLIENT_DROP_CODE, reason);
    this.deps.onDown();
    if (!this.wanted) {
      this.setState('closed');
      return;
    }
    if (TERMINAL_CLOSE_CODES.includes(code)) {
      this.wanted = false;
      this.setState('closed');
      this.deps.onSessionRevoked(code, reason);
      return;
    }
    if (code === CLOSE_CODES.AUTH_FAILED) this.forceRefresh = true;
    // Closed for flooding: come back after a real pause, not at the first backoff step.
    if (code === CLOSE_CODES.RATE_LIMITED) this.attempt = Math.max(this.attempt, 4);
    // The server is draining: reconnect at once (the load balancer picks another server), and do not count it
    // as a failure. If no server answers, the backoff starts from its first step.
    if (code === CLOSE_CODES.SERVER_DRAINING) {
      this.attempt = 0;
      this.scheduleReconnect(0);
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(immediateDelay?: number): void {
    if (!this.wanted || this.reconnectTimer) return;
    this.setState('reconnecting');
    const delay = immediateDelay ?? backoffDelay(this.attempt++, this.deps.backoff);
    this.reconnectTimer = startTimer(() => void this.open(), delay);
  }

  /** Detaches and closes the current socket, stops its timers and fails its pending requests. */
  private abandonSocket(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.authenticated = false;
    this.stopHeartbeat();
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    for (const [rid, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(ApiError.client('CONNECTION_LOST', 'The connection closed before the reply.'));
      this.pending.delete(rid);
    }
    if (!ws) return;
    // No-ops rather than null: the `ws` package throws on an 'error' event nobody listens to.
    ws.onopen = noop;
    ws.onmessage = noop;
    ws.onclose = noop;
    ws.onerror = noop;
    try {
      // `ws` waits for the closing handshake on a dead peer; terminate() frees the socket at once.
      const terminate = (ws as { terminate?: () => void }).terminate;
      if (typeof terminate === 'function' && code === CLIENT_DROP_CODE) terminate.call(ws);
      else ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}

/** An error frame as ApiError (status from the protocol's table). */
export function toApiError(frame: Extract<ServerFrame, { type: 'error' }>): ApiError {
  return new ApiError(frame.code, frame.message, statusOf(frame.code), {
    fields: frame.fields,
    retryAfterMs: frame.retryAfterMs,
  });
}
