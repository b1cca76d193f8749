import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { KKChatClient, type HttpClient } from '@kkchat/client';
import type { AuthResult } from '@kkchat/protocol';
import { wsCtor } from './clients.js';

// ---- reconnect storm with the full SDK (sync after reconnect) ----------------------------------------------------

interface StormClient {
  client: KKChatClient;
  auth: AuthResult;
  conversationId: string;
  baseSeq: number;
  /** seq -> times the 'message' event delivered it. */
  seen: Map<number, number>;
  sockets: Set<WebSocket>;
}
let storm: StormClient[] = [];
let expected = new Map<string, number>();
/** Wall-clock time of the drop (Date.now(), comparable across the workers). */
let droppedAt = 0;

export async function stormConnect(args: { url: string; users: { auth: AuthResult; conversationId: string }[]; addresses: string[]; concurrency: number }) {
  const t0 = performance.now();
  let i = 0;
  let failed = 0;
  const runOne = async () => {
    while (i < args.users.length) {
      const idx = i++;
      const { auth, conversationId } = args.users[idx];
      const sockets = new Set<WebSocket>();
      const client = new KKChatClient({
        baseUrl: args.url,
        WebSocket: wsCtor(args.addresses[idx % args.addresses.length], sockets),
        validateResponses: false,
        requestTimeoutMs: 120_000,
      });
      // Adopt the session made when the user was seeded (saves one argon2 sign-in per client).
      (client as unknown as { http: HttpClient }).http.setSession(auth);
      const entry: StormClient = { client, auth, conversationId, baseSeq: 0, seen: new Map(), sockets };
      try {
        const summary = await client.conversations.get(conversationId);
        entry.baseSeq = summary.lastSeq;
        client.trackConversation(conversationId, summary.lastSeq);
        client.on('message', (m) => {
          if (m.conversationId === conversationId) entry.seen.set(m.seq, (entry.seen.get(m.seq) ?? 0) + 1);
        });
        await client.connect();
        storm.push(entry);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.users.length) }, runOne));
  return { ms: performance.now() - t0, connected: storm.length, failed };
}

/**
 * Drops every socket at once (no closing handshake, like a network loss) and, while the clients are away and
 * reconnecting, sends `perConversation` messages into each conversation over REST as its members.
 */
export async function stormDrop(args: { url: string; perConversation: number; concurrency: number }) {
  const t0 = performance.now();
  droppedAt = Date.now();
  for (const c of storm) for (const ws of c.sockets) ws.terminate();
  expected = new Map();
  const jobs: { auth: AuthResult; conversationId: string }[] = [];
  const byConv = new Map<string, StormClient[]>();
  for (const c of storm) byConv.set(c.conversationId, [...(byConv.get(c.conversationId) ?? []), c]);
  for (const [conversationId, members] of byConv) {
    for (let k = 0; k < args.perConversation; k++) jobs.push({ auth: members[k % members.length].auth, conversationId });
  }
  let j = 0;
  let sendErrors = 0;
  const runOne = async () => {
    while (j < jobs.length) {
      const job = jobs[j++];
      try {
        const res = await fetch(`${args.url}/api/v1/conversations/${job.conversationId}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${job.auth.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ clientMsgId: `storm-${process.pid}-${j}-${Date.now()}`, kind: 'text', text: 'storm' }),
        });
        const body = (await res.json()) as { message?: { seq: number } };
        if (!res.ok || !body.message) throw new Error(String(res.status));
        expected.set(job.conversationId, Math.max(expected.get(job.conversationId) ?? 0, body.message.seq));
      } catch {
        sendErrors++;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, runOne));
  return { sent: jobs.length - sendErrors, sendErrors, sendMs: performance.now() - t0 };
}

/** Waits until every client is online and holds every seq up to the last one sent, then checks exactly-once. */
export async function stormWait(args: { timeoutMs: number }) {
  const t0 = performance.now();
  let allOnlineMs: number | null = null;
  const caughtUp = (c: StormClient) => {
    const last = expected.get(c.conversationId) ?? c.baseSeq;
    for (let s = c.baseSeq + 1; s <= last; s++) if (!c.seen.has(s)) return false;
    return true;
  };
  for (;;) {
    const online = storm.every((c) => c.client.state === 'online');
    if (online && allOnlineMs === null) allOnlineMs = Date.now() - droppedAt;
    if (online && storm.every(caughtUp)) break;
    if (performance.now() - t0 > args.timeoutMs) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const caughtUpMs = Date.now() - droppedAt;
  let missing = 0;
  let duplicated = 0;
  let unexpected = 0;
  let delivered = 0;
  for (const c of storm) {
    const last = expected.get(c.conversationId) ?? c.baseSeq;
    for (let s = c.baseSeq + 1; s <= last; s++) if (!c.seen.has(s)) missing++;
    for (const [s, n] of c.seen) {
      delivered += n;
      if (n > 1) duplicated += n - 1;
      if (s <= c.baseSeq || s > last) unexpected++;
    }
  }
  return {
    caughtUpMs,
    allOnlineMs,
    clients: storm.length,
    online: storm.filter((c) => c.client.state === 'online').length,
    delivered,
    missing,
    duplicated,
    unexpected,
  };
}

/** Disconnects every SDK client opened by stormConnect. */
export function closeStorm(): void {
  for (const c of storm) c.client.disconnect();
  storm = [];
}
