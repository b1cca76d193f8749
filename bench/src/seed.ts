import type { AuthResult } from '@kkchat/protocol';

export interface SeedUser {
  auth: AuthResult;
  username: string;
  password: string;
}

export interface Pool {
  users: SeedUser[];
  /** Direct conversation of users 2i and 2i+1. */
  conversations: string[];
}

async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/api/v1${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function parallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

/**
 * Registers `count` users over the API (argon2 makes each take ~25 ms of server CPU, so this runs in parallel)
 * and makes users 2i and 2i+1 friends, which opens their direct conversation.
 */
export async function seedPool(url: string, count: number, progress: (done: number) => void): Promise<Pool> {
  const run = Date.now().toString(36).slice(-5);
  let done = 0;
  const users = await parallel(count, 16, async (i) => {
    const username = `b${run}_${i}`;
    const password = `bench-password-${i}`;
    const res = await post<AuthResult>(url, '/auth/register', { username, password, deviceName: 'bench' });
    if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${JSON.stringify(res.body)}`);
    if (++done % 500 === 0) progress(done);
    return { auth: res.body, username, password };
  });
  const conversations = await parallel(Math.floor(count / 2), 16, async (p) => {
    const a = users[2 * p];
    const b = users[2 * p + 1];
    const sent = await post<{ request: { id: string } }>(url, '/friend-requests', { userId: b.auth.user.id }, a.auth.accessToken);
    if (sent.status !== 201) throw new Error(`friend request: ${sent.status} ${JSON.stringify(sent.body)}`);
    const accepted = await post<{ contact: { conversationId: string } }>(
      url,
      `/friend-requests/${sent.body.request.id}/accept`,
      {},
      b.auth.accessToken,
    );
    if (accepted.status !== 200) throw new Error(`accept: ${accepted.status} ${JSON.stringify(accepted.body)}`);
    return accepted.body.contact.conversationId;
  });
  return { users, conversations };
}
