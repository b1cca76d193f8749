import {
  CLIENT_FRAME_TYPES,
  ClientFrameSchema,
  CLOSE_CODES,
  ERRORS,
  type ClientFrame,
  type ServerFrame,
} from '@kkchat/protocol';
import type { RawData } from 'ws';
import type { Actor, Platform, Services } from '../../context.js';
import { AppError, fieldErrorsFromIssues } from '../../errors.js';
import type { CallCommand } from '../../platform/events/event-bus.js';
import { takeToken, type Connection } from './connection.js';

/**
 * Rate-limited frames a connection may send per frame window (refilled continuously) before it is closed
 * (BR-33: sustained abuse disconnects).
 */
export const MAX_RATE_VIOLATIONS = 50;

export interface DispatcherHooks {
  /** Called once the auth frame is accepted; resolves false when the connection must not continue. */
  authenticated(conn: Connection): Promise<boolean>;
  send(conn: Connection, frame: ServerFrame): void;
}

/**
 * Parses and validates each client frame, then calls one service method per frame type. A bad frame gets an
 * error frame and the connection stays usable; only a missing/failed auth or sustained abuse closes it.
 */
export class FrameDispatcher {
  constructor(
    private readonly platform: Platform,
    private readonly services: Services,
    private readonly hooks: DispatcherHooks,
  ) {}

  async dispatch(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    const parsed = parseFrame(data, isBinary);
    if (!conn.auth) {
      conn.auth = this.authenticate(conn, parsed);
      await conn.auth;
      return;
    }
    // A client may send frames right behind its auth frame; they wait until auth.ok has gone out.
    if (!(await conn.auth) || !conn.actor) return;
    const frameLimit = this.platform.config.limits.framesPerConnection;
    const now = this.platform.now();
    if (!takeToken(conn, 'frame', frameLimit, now)) {
      if (!takeToken(conn, 'violation', { limit: MAX_RATE_VIOLATIONS, windowMs: frameLimit.windowMs }, now)) {
        conn.ws.close(CLOSE_CODES.RATE_LIMITED, 'too many frames');
      } else this.error(conn, undefined, new AppError('RATE_LIMITED', { retryAfterMs: 1000 }));
      return;
    }
    if (parsed instanceof AppError) {
      this.error(conn, parsed instanceof FrameError ? parsed.rid : undefined, parsed);
      return;
    }
    const actor: Actor = { ...conn.actor, connectionId: conn.id };
    if (parsed.type === 'send') {
      // Queue behind earlier sends of this socket so seqs follow the order the client sent in.
      conn.sendChain = conn.sendChain.then(() => this.run(conn, parsed, actor));
      return conn.sendChain;
    }
    return this.run(conn, parsed, actor);
  }

  private async run(conn: Connection, frame: ClientFrame, actor: Actor): Promise<void> {
    const rid = 'rid' in frame ? frame.rid : undefined;
    try {
      switch (frame.type) {
        case 'auth':
          throw new AppError('ALREADY_AUTHENTICATED');
        case 'send': {
          const { type: _type, rid: _rid, conversationId, ...input } = frame;
          const result = await this.services.conversations.sendMessage(actor, conversationId, input);
          this.hooks.send(conn, { type: 'ack', rid, message: result.message, duplicate: result.duplicate });
          break;
        }
        case 'read': {
          const result = await this.services.conversations.markRead(actor, frame.conversationId, frame.seq);
          this.hooks.send(conn, { type: 'read.ok', rid, conversationId: frame.conversationId, readSeq: result.readSeq });
          break;
        }
        case 'typing':
          // Typing is a hint: over its own small budget it is dropped without an answer.
          if (takeToken(conn, 'typing', this.platform.config.limits.typingPerConnection, this.platform.now())) {
            await this.services.conversations.typing(actor, frame.conversationId);
          }
          break;
        case 'ping':
          this.hooks.send(conn, { type: 'pong', rid, serverTime: this.platform.now() });
          break;
        default:
          await this.runCall(conn, frame, actor, rid);
      }
    } catch (error) {
      this.error(conn, rid, error);
    }
  }

  /** Call frames (calls.service.ts): the actions answer `call.ok` when they carry a rid; signals answer only errors. */
  private async runCall(conn: Connection, frame: ClientFrame, actor: Actor, rid: string | undefined): Promise<void> {
    const calls = this.services.calls;
    // Cluster mode: a call held by another node gets the frame there; that node answers this socket.
    const owner = 'callId' in frame ? calls.ownerElsewhere(frame.callId) : null;
    if (owner && 'callId' in frame) {
      await calls.forward(owner, frame.callId, actor, forwardedCommand(frame, rid));
      return;
    }
    let call;
    switch (frame.type) {
      case 'call.invite':
        call = await calls.invite(actor, { conversationId: frame.conversationId, calleeId: frame.calleeId }, frame.media);
        break;
      case 'call.accept':
        call = await calls.accept(actor, frame.callId);
        break;
      case 'call.reject':
        call = await calls.reject(actor, frame.callId);
        break;
      case 'call.cancel':
        call = await calls.cancel(actor, frame.callId);
        break;
      case 'call.hangup':
        call = await calls.hangup(actor, frame.callId, frame.reason);
        break;
      case 'call.signal':
        await calls.signal(actor, frame.callId, frame.signal);
        return;
      default:
        return;
    }
    if (rid !== undefined) this.hooks.send(conn, { type: 'call.ok', rid, call });
  }

  /** Handles the first frame of a connection; true once auth.ok has been sent. */
  private async authenticate(conn: Connection, parsed: ClientFrame | AppError): Promise<boolean> {
    if (parsed instanceof AppError || parsed.type !== 'auth') {
      conn.ws.close(CLOSE_CODES.AUTH_REQUIRED, 'the first frame must be {"type":"auth"}');
      return false;
    }
    if (conn.authTimer) clearTimeout(conn.authTimer);
    conn.authTimer = null;
    try {
      conn.actor = await this.services.auth.authenticate(parsed.token);
    } catch (error) {
      const ended = error instanceof AppError ? sessionEndClose(error.code) : null;
      if (ended) conn.ws.close(ended.code, ended.reason);
      else conn.ws.close(CLOSE_CODES.AUTH_FAILED, 'invalid token');
      return false;
    }
    if (!(await this.hooks.authenticated(conn))) return false;
    this.hooks.send(conn, {
      type: 'auth.ok',
      userId: conn.actor.userId,
      sessionId: conn.actor.sessionId,
      heartbeatMs: this.platform.config.heartbeatMs,
      serverTime: this.platform.now(),
    });
    return true;
  }

  private error(conn: Connection, rid: string | undefined, error: unknown): void {
    const appError = error instanceof AppError ? error : new AppError('INTERNAL');
    if (!(error instanceof AppError)) this.platform.log.error({ err: error, connectionId: conn.id }, 'frame failed');
    this.hooks.send(conn, {
      type: 'error',
      rid,
      code: appError.code,
      message: appError.message,
      ...(appError.fields ? { fields: appError.fields } : {}),
      ...(appError.retryAfterMs !== undefined ? { retryAfterMs: appError.retryAfterMs } : {}),
    });
  }
}

/**
 * The close for a socket whose session can no longer be used (SESSION_REVOKED, or an administrator disabled or
 * deleted the account), or null for other errors.
 */
export function sessionEndClose(code: string): { code: number; reason: string } | null {
  switch (code) {
    case 'SESSION_REVOKED':
      return { code: CLOSE_CODES.SESSION_REVOKED, reason: 'session revoked' };
    case 'ACCOUNT_DISABLED':
      return { code: CLOSE_CODES.ACCOUNT_DISABLED, reason: 'account_disabled' };
    case 'ACCOUNT_DELETED':
      return { code: CLOSE_CODES.ACCOUNT_DELETED, reason: 'account_deleted' };
    default:
      return null;
  }
}

/** A call frame as the node holding the call runs it (calls.cluster.ts). */
function forwardedCommand(frame: ClientFrame, rid: string | undefined): Omit<CallCommand, 'actor'> {
  const base = rid !== undefined ? { rid } : {};
  switch (frame.type) {
    case 'call.accept':
      return { ...base, action: 'accept' };
    case 'call.reject':
      return { ...base, action: 'reject' };
    case 'call.cancel':
      return { ...base, action: 'cancel' };
    case 'call.hangup':
      return { ...base, action: 'hangup', ...(frame.reason ? { reason: frame.reason } : {}) };
    case 'call.signal':
      return { action: 'signal', signal: frame.signal };
    default:
      throw new AppError('UNKNOWN_FRAME_TYPE');
  }
}

/** A refused frame. `rid` is the frame's own request id when it had a usable one, so the error can repeat it. */
export class FrameError extends AppError {
  rid?: string;
}

/** The frame's `rid` when it is one the server could have accepted (a string of at most 64 characters). */
function usableRid(value: object): string | undefined {
  const rid = (value as { rid?: unknown }).rid;
  return typeof rid === 'string' && rid.length <= 64 ? rid : undefined;
}

/** JSON text → a valid client frame, or the AppError describing what is wrong with it. */
export function parseFrame(data: RawData, isBinary: boolean): ClientFrame | AppError {
  if (isBinary) return new AppError('INVALID_FRAME', { message: 'Frames must be JSON text.' });
  let value: unknown;
  try {
    value = JSON.parse(rawToString(data));
  } catch {
    return new AppError('INVALID_FRAME', { message: 'The frame is not valid JSON.' });
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new AppError('INVALID_FRAME', { message: 'A frame is a JSON object with a "type".' });
  }
  const rid = usableRid(value);
  let error: FrameError;
  if (typeof type !== 'string' || !(CLIENT_FRAME_TYPES as readonly string[]).includes(type)) {
    error = new FrameError('UNKNOWN_FRAME_TYPE', { message: `${ERRORS.UNKNOWN_FRAME_TYPE.message} Known: ${CLIENT_FRAME_TYPES.join(', ')}.` });
  } else {
    const result = ClientFrameSchema.safeParse(value);
    if (result.success) return result.data;
    error = new FrameError('INVALID_FRAME', { fields: fieldErrorsFromIssues(result.error.issues) });
  }
  if (rid !== undefined) error.rid = rid;
  return error;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
