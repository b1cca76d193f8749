import type { WebSocket } from 'ws';
import type { Actor } from '../../context.js';

/** One WebSocket and what the gateway knows about it. Dropped from every index when the socket closes. */
export interface Connection {
  id: string;
  ws: WebSocket;
  /** Set once the auth frame has been accepted. */
  actor: Actor | null;
  /**
   * The handling of the first frame: resolves true once auth.ok has been sent, false when the socket is being
   * closed instead. Frames that arrive right behind the auth frame wait for it rather than being taken for a
   * first frame that is not auth.
   */
  auth: Promise<boolean> | null;
  authTimer: NodeJS.Timeout | null;
  /** Cleared at each heartbeat; set by any pong or inbound frame. */
  alive: boolean;
  /** The node is shutting down: frames from now on are dropped, the socket closes once its sends are done. */
  draining: boolean;
  /** Sends of this connection run one after another, so their seqs follow the order they were sent in. */
  sendChain: Promise<void>;
  /** Per-connection frame budget (token bucket, kept inline: it dies with the connection). */
  frameTokens: number;
  frameTokensAt: number;
  typingTokens: number;
  typingTokensAt: number;
  /**
   * Budget of frames refused for rate (a token bucket over the frame window). Refusals must add up over time:
   * a client that keeps sending faster than its budget is closed, even though a token refills now and then.
   */
  violationTokens: number;
  violationTokensAt: number;
}

/** Refills a token bucket stored on the connection and takes one token; false when empty. */
export function takeToken(
  conn: Connection,
  field: 'frame' | 'typing' | 'violation',
  limit: { limit: number; windowMs: number },
  now: number,
): boolean {
  const tokensKey = `${field}Tokens` as const;
  const atKey = `${field}TokensAt` as const;
  const refill = ((now - conn[atKey]) * limit.limit) / limit.windowMs;
  conn[tokensKey] = Math.min(limit.limit, conn[tokensKey] + refill);
  conn[atKey] = now;
  if (conn[tokensKey] < 1) return false;
  conn[tokensKey] -= 1;
  return true;
}
