import type { AccountRole, Contact, ConversationSummary, FriendRequest, Message, RemovedMessage, UserPublic } from '@kkchat/protocol';
import type { ApiError } from './errors.js';
import type { CallEvents } from './calls.js';
import type { BackoffOptions } from './backoff.js';
import type { TokenStore } from './http.js';
import type { ConnectionState, WebSocketCtor } from './realtime.js';
import type { HistoryUnavailable } from './sync.js';
import type { OutboxEntry } from './outbox.js';

/** Options of KKChatClient. Only baseUrl is required. */
export interface KKChatClientOptions {
  /** Server origin, e.g. 'http://127.0.0.1:8080'; '' means the page's own origin (browser). */
  baseUrl: string;
  /** WebSocket constructor; default globalThis.WebSocket. Node 20 has none: pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketCtor;
  fetch?: typeof fetch;
  /**
   * Browser: the refresh token lives in an httpOnly cookie set by the server and is never stored in JS.
   */
  cookieMode?: boolean;
  /** Where the refresh token is kept (ignored in cookie mode); default in memory. */
  tokenStore?: TokenStore;
  /** Sent with register/login so the sessions list can name this device. */
  deviceName?: string;
  /** Reconnect backoff: exponential with full jitter, default 500 ms .. 15 s. */
  reconnect?: BackoffOptions;
  /** REST request timeout and WebSocket handshake timeout (default 15 s). */
  requestTimeoutMs?: number;
  /** Resend an unacknowledged message after this long (default 10 s). */
  ackTimeoutMs?: number;
  /** Wait this long for late frames before pulling a gap (default 100 ms). */
  gapFillDelayMs?: number;
  /** Validate REST bodies and WebSocket frames against the protocol schemas (default true). */
  validateResponses?: boolean;
}

/** Events of KKChatClient, by name, with their payloads. */
export interface ClientEvents extends CallEvents {
  state: ConnectionState;
  /** Each (conversationId, seq) exactly once, in seq order per conversation. */
  message: Message;
  /** A read cursor moved (the user's other device, or the peer: a read receipt). */
  read: { conversationId: string; userId: string; seq: number };
  typing: { conversationId: string; userId: string };
  presence: { userId: string; online: boolean; lastSeenAt: number | null };
  'friend.request': FriendRequest;
  'contact.added': Contact;
  'contact.removed': { userId: string };
  'user.updated': UserPublic;
  /** A group the user is in changed (settings, members, roles) or the user was added: refetch it. */
  'group.updated': { conversationId: string };
  /** The user left, was removed, or the group was dismissed; its history up to then stays readable. */
  'group.removed': { conversationId: string; reason: 'left' | 'removed' | 'dismissed' };
  /** An outbox entry was created or changed state (snapshot). */
  outbox: OutboxEntry;
  /** The fresh conversation list fetched by each sync. */
  conversations: ConversationSummary[];
  /** A sync finished; the client is online. */
  synced: void;
  /**
   * An administrator removed a message: replace the copy you hold (same conversation and seq) with this tombstone.
   * It can arrive twice (live and from the timeline's redaction record); applying it again changes nothing.
   */
  'message.removed': RemovedMessage;
  /** The signed-in account's role changed (an administrator granted or revoked `admin`). */
  'account.updated': { role: AccountRole };
  /**
   * The server ended the session and the client does not reconnect: close code 4003 (SESSION_REVOKED, `reason`
   * says why: logout, admin_signout, password_reset, ...), 4005 (account disabled) or 4006 (account deleted).
   */
  'session.revoked': { code: number; reason: string };
  /**
   * The session is over: refreshing failed, or a request answered ACCOUNT_DISABLED / ACCOUNT_DELETED (`code`).
   * The app must show the sign-in screen.
   */
  'auth.expired': { code: string | null };
  /** The server can no longer replay these messages; the cursor skipped them. */
  'history.unavailable': HistoryUnavailable;
  /** Errors not tied to a call: unmatched error frames, frames that break the protocol. */
  error: ApiError;
}
