import type { AuthResult, ServerFrame } from '@kkchat/protocol';
import WebSocket from 'ws';

/** Minimal REST caller for tests that check the wire itself (status codes, bodies). */
export async function api<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await fetch(`${baseUrl}/api/v1${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
}

let counter = 0;

/** Registers a fresh user with a unique name; the password is "password-<name>". */
export async function registerUser(baseUrl: string, prefix = 'user'): Promise<AuthResult & { password: string }> {
  const username = `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`.slice(0, 32);
  const password = `password-${username}`;
  const result = await api<AuthResult>(baseUrl, 'POST', '/auth/register', { body: { username, password } });
  if (result.status !== 201) throw new Error(`register failed: ${result.status} ${JSON.stringify(result.body)}`);
  return { ...result.body, password };
}

/** Makes two registered users friends; returns their direct conversation id. */
export async function befriend(baseUrl: string, a: AuthResult, b: AuthResult): Promise<string> {
  const sent = await api<{ request: { id: string } }>(baseUrl, 'POST', '/friend-requests', {
    token: a.accessToken,
    body: { userId: b.user.id },
  });
  if (sent.status !== 201) throw new Error(`request failed: ${JSON.stringify(sent.body)}`);
  const accepted = await api<{ contact: { conversationId: string } }>(
    baseUrl,
    'POST',
    `/friend-requests/${sent.body.request.id}/accept`,
    { token: b.accessToken },
  );
  if (accepted.status !== 200) throw new Error(`accept failed: ${JSON.stringify(accepted.body)}`);
  return accepted.body.contact.conversationId;
}

/** A raw WebSocket that records every frame and close, for protocol-level tests. */
export class RawSocket {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as ServerFrame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  static async open(wsUrl: string, options: { origin?: string } = {}): Promise<RawSocket> {
    const ws = new WebSocket(wsUrl, options.origin ? { origin: options.origin } : {});
    const socket = new RawSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return socket;
  }

  /** Opens a socket and authenticates; resolves after auth.ok. */
  static async connect(wsUrl: string, token: string): Promise<RawSocket> {
    const socket = await RawSocket.open(wsUrl);
    socket.send({ type: 'auth', token });
    await socket.next('auth.ok');
    return socket;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits for the first frame (from the start) matching type and predicate. */
  async next<T extends ServerFrame['type']>(
    type: T,
    predicate: (frame: Extract<ServerFrame, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Extract<ServerFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(
        (f): f is Extract<ServerFrame, { type: T }> => f.type === type && predicate(f as Extract<ServerFrame, { type: T }>),
      );
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) while waiting for ${type}`);
      if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket did not close');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
