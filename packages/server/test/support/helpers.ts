import type { AuthResult, ErrorBody, Message, ServerFrame } from '@kkchat/protocol';
import { expect } from 'vitest';
import { api, befriend, RawSocket, registerUser } from './raw-client.js';
import { startTestServer, type TestServer } from './test-server.js';

/**
 * Integration tests share 127.0.0.1, so the per-IP limits of a real deployment would throttle a file that
 * registers many users. They are raised here; the files that test those limits set them back down.
 */
export const RELAXED_LIMITS: Record<string, string> = {
  KKCHAT_REGISTER_MAX_PER_IP: '100000',
  KKCHAT_LOGIN_MAX_PER_IP: '100000',
  KKCHAT_LOGIN_MAX_PER_ACCOUNT: '1000',
  KKCHAT_SEND_MAX_PER_10S: '100000',
  KKCHAT_API_MAX_PER_MIN: '100000',
  KKCHAT_WS_MAX_PER_IP: '100000',
};

export function startServer(env: Record<string, string> = {}, options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  return startTestServer({ ...options, env: { ...RELAXED_LIMITS, ...env } });
}

/** Polls `check` until it stops throwing (or returns truthy), up to `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value;
      if (Date.now() > deadline) throw new Error('condition stayed false');
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts an error response: status, stable code, and the `{ error: { code, message } }` shape. */
export function expectError(response: { status: number; body: unknown }, status: number, code: string): ErrorBody['error'] {
  const body = response.body as ErrorBody;
  expect({ status: response.status, code: body?.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

export type User = AuthResult & { password: string };

/** Two registered users who are friends, with their direct conversation. */
export async function friends(server: TestServer, prefix = 'u'): Promise<{ a: User; b: User; conversationId: string }> {
  const a = await registerUser(server.url, `${prefix}a`);
  const b = await registerUser(server.url, `${prefix}b`);
  const conversationId = await befriend(server.url, a, b);
  return { a, b, conversationId };
}

let rid = 0;
export function nextRid(prefix = 'r'): string {
  return `${prefix}${++rid}`;
}

/** Sends a text message over the socket and waits for the reply (ack or error) with the same rid. */
export async function wsSend(
  socket: RawSocket,
  conversationId: string,
  text: string,
  clientMsgId = nextRid('c'),
  extra: Record<string, unknown> = {},
): Promise<Extract<ServerFrame, { type: 'ack' | 'error' }>> {
  const id = nextRid();
  socket.send({ type: 'send', rid: id, conversationId, clientMsgId, kind: 'text', text, ...extra });
  return replyTo(socket, id);
}

/** The ack/read.ok/pong/error frame answering `rid`. */
export async function replyTo(socket: RawSocket, id: string, timeoutMs = 10_000): Promise<Extract<ServerFrame, { type: 'ack' | 'error' }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = socket.frames.find((f) => 'rid' in f && f.rid === id);
    if (found) return found as Extract<ServerFrame, { type: 'ack' | 'error' }>;
    if (socket.closed) throw new Error(`socket closed (${socket.closed.code}) while waiting for the reply to ${id}`);
    if (Date.now() > deadline) throw new Error(`no reply to ${id}; got ${JSON.stringify(socket.frames.map((f) => f.type))}`);
    await sleep(10);
  }
}

/** Round trip on the socket: every frame the server queued for it before this point has arrived. */
export async function pingPong(socket: RawSocket): Promise<void> {
  const id = nextRid('p');
  socket.send({ type: 'ping', rid: id });
  await socket.next('pong', (f) => f.rid === id, 10_000);
}

export function framesOf<T extends ServerFrame['type']>(socket: RawSocket, type: T): Extract<ServerFrame, { type: T }>[] {
  return socket.frames.filter((f): f is Extract<ServerFrame, { type: T }> => f.type === type);
}

export async function restSend(server: TestServer, user: AuthResult, conversationId: string, text: string, clientMsgId = nextRid('c')) {
  return api<{ message: Message; duplicate: boolean }>(server.url, 'POST', `/conversations/${conversationId}/messages`, {
    token: user.accessToken,
    body: { clientMsgId, kind: 'text', text },
  });
}

export async function history(server: TestServer, user: AuthResult, conversationId: string, query = '') {
  const response = await api<{ messages: Message[]; hasMore: boolean; lastSeq: number; earliestAvailableSeq: number }>(
    server.url,
    'GET',
    `/conversations/${conversationId}/messages${query ? `?${query}` : ''}`,
    { token: user.accessToken },
  );
  return response;
}

export async function login(server: TestServer, username: string, password: string, headers: Record<string, string> = {}) {
  return api<AuthResult>(server.url, 'POST', '/auth/login', { body: { username, password }, headers });
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export { api, befriend, RawSocket, registerUser };
