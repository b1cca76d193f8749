/**
 * A load-generator process. The orchestrator (cli.ts) forks several so that clients and server never share an
 * event loop, and drives them over IPC. One worker holds both sides of each pair it is given, so send→deliver
 * latency is measured on one clock (timeOrigin + performance.now(), which fan-out also compares across workers).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { io as ioClient, type Socket as SioSocket } from 'socket.io-client';
import { HttpClient, KKChatClient, Realtime, type WebSocketCtor } from '@kkchat/client';
import type { AuthResult, ServerFrame } from '@kkchat/protocol';

type Target = 'kkchat' | 'ws' | 'sio';

export interface ConnSpec {
  /** User id (KKChat) or relay id. */
  id: string;
  token?: string;
  conversationId?: string;
  /** Index (in this worker's list) of the peer this connection sends to; -1: none (idle only). */
  peer: number;
  /** Relays: send to everyone else (group fan-out) instead of the peer. */
  broadcast?: boolean;
}

interface Conn {
  spec: ConnSpec;
  send(text: string): void;
  close(): void;
  /** Drops the socket without a closing handshake (network loss); the client reconnects by itself. */
  drop(): void;
  online: boolean;
}

const stats = {
  sent: 0,
  acked: 0,
  delivered: 0,
  errors: 0,
  counting: false,
  ackLat: [] as number[],
  delLat: [] as number[],
};
const MAX_SAMPLES = 50_000;
/** Wall-clock milliseconds with sub-ms precision, comparable across the worker processes (fan-out spans them). */
const now = (): number => performance.timeOrigin + performance.now();
/** Fan-out: per message (its send time as text), how many members got it and the latest arrival. */
const fanout = new Map<string, { n: number; max: number }>();
let trackFanout = false;
function sample(arr: number[], v: number, seen: number): void {
  if (arr.length < MAX_SAMPLES) arr.push(v);
  else {
    const j = Math.floor(Math.random() * seen);
    if (j < MAX_SAMPLES) arr[j] = v;
  }
}
function onAck(text: string): void {
  stats.acked++;
  if (stats.counting) sample(stats.ackLat, now() - Number(text), stats.acked);
}
function onDeliver(text: string): void {
  stats.delivered++;
  const lat = now() - Number(text);
  if (stats.counting) sample(stats.delLat, lat, stats.delivered);
  if (trackFanout) {
    const e = fanout.get(text);
    if (e) {
      e.n++;
      if (lat > e.max) e.max = lat;
    } else fanout.set(text, { n: 1, max: lat });
  }
}

let conns: Conn[] = [];
/** Error frames by code, reported with each load step. */
const errorCodes = new Map<string, number>();
let target: Target = 'kkchat';

/** A WebSocket constructor for the SDK that binds the client side to one loopback address. */
function wsCtor(localAddress: string, registry?: Set<WebSocket>): WebSocketCtor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { localAddress, perMessageDeflate: false });
      if (registry) {
        registry.add(this);
        this.once('close', () => registry.delete(this));
      }
    }
  } as unknown as WebSocketCtor;
}

function wsUrl(url: string): string {
  return url.replace(/^http/, 'ws') + '/ws';
}

function openKKChat(url: string, spec: ConnSpec, addr: string): Promise<Conn> {
  return new Promise((resolveConn, reject) => {
    let rid = 0;
    const conn: Conn = {
      spec,
      online: false,
      send(text) {
        rt.send({ type: 'send', rid: `b${++rid}`, conversationId: spec.conversationId!, clientMsgId: `${spec.id.slice(-8)}-${process.pid}-${++seq}`, kind: 'text', text });
      },
      close: () => rt.stop(),
      drop: () => registry.forEach((ws) => ws.terminate()),
    };
    const registry = new Set<WebSocket>();
    const rt: Realtime = new Realtime({
      url: () => wsUrl(url),
      WebSocket: wsCtor(addr, registry),
      getToken: async () => spec.token!,
      onState: (state) => {
        if (state === 'closed' && !conn.online) reject(new Error('closed before online'));
      },
      onAuthenticated: async () => undefined,
      onOnline: () => {
        conn.online = true;
        resolveConn(conn);
      },
      onFrame: (frame: ServerFrame) => {
        if (frame.type === 'ack') onAck(textOf(frame.message));
        else if (frame.type === 'message') onDeliver(textOf(frame.message));
        else if (frame.type === 'error') {
          stats.errors++;
          errorCodes.set(frame.code, (errorCodes.get(frame.code) ?? 0) + 1);
        }
      },
      onDown: () => (conn.online = false),
      onSessionRevoked: () => undefined,
      onBadFrame: () => stats.errors++,
      backoff: { minDelayMs: 500 },
      handshakeTimeoutMs: 60_000,
      validateFrames: false,
    });
    rt.start();
    // Realtime retries forever; a connection that cannot come online in time counts as failed.
    setTimeout(() => {
      if (!conn.online) {
        rt.stop();
        reject(new Error('not online in time'));
      }
    }, 60_000).unref();
  });
}
let seq = 0;

/** The benchmark's messages are text whose body is the send time. */
function textOf(message: object): string {
  return String((message as { text?: unknown }).text ?? '');
}

function openWs(url: string, spec: ConnSpec, addr: string, peerId: () => string): Promise<Conn> {
  return new Promise((resolveConn, reject) => {
    let rid = 0;
    let ws: WebSocket;
    let wanted = true;
    let attempt = 0;
    const conn: Conn = {
      spec,
      online: false,
      send(text) {
        ws.send(JSON.stringify(spec.broadcast ? { t: 'b', r: ++rid, c: text } : { t: 's', r: ++rid, to: peerId(), c: text }));
      },
      close() {
        wanted = false;
        ws.close();
      },
      drop: () => ws.terminate(),
    };
    const open = () => {
      ws = new WebSocket(url.replace(/^http/, 'ws'), { localAddress: addr, perMessageDeflate: false });
      ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', id: spec.id })));
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as { t: string; c?: string };
        if (f.t === 'a') onAck(f.c!);
        else if (f.t === 'm') onDeliver(f.c!);
        else if (f.t === 'ok') {
          attempt = 0;
          conn.online = true;
          resolveConn(conn);
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        conn.online = false;
        if (!wanted) return;
        // Same policy as the SDK: full jitter, 500 ms doubling to 15 s.
        const delay = Math.random() * Math.min(15_000, 500 * 2 ** attempt++);
        setTimeout(open, delay);
        if (attempt > 12) reject(new Error('cannot connect'));
      });
    };
    open();
  });
}

function openSio(url: string, spec: ConnSpec, addr: string, peerId: () => string): Promise<Conn> {
  return new Promise((resolveConn, reject) => {
    const socket: SioSocket = ioClient(url, {
      transports: ['websocket'],
      forceNew: true,
      auth: { id: spec.id },
      reconnectionDelay: 500,
      reconnectionDelayMax: 15_000,
      randomizationFactor: 1,
      timeout: 60_000,
      localAddress: addr,
      perMessageDeflate: false,
    } as unknown as Parameters<typeof ioClient>[1]);
    const conn: Conn = {
      spec,
      online: false,
      send(text) {
        if (spec.broadcast) socket.emit('b', { c: text }, (c: string) => onAck(c));
        else socket.emit('s', { to: peerId(), c: text }, (c: string) => onAck(c));
      },
      close: () => socket.close(),
      drop: () => socket.io.engine?.close(),
    };
    socket.on('m', (m: { c: string }) => onDeliver(m.c));
    socket.on('connect', () => {
      conn.online = true;
      resolveConn(conn);
    });
    socket.on('disconnect', () => (conn.online = false));
    socket.on('connect_error', (err) => {
      if (!socket.active) reject(err);
    });
  });
}

async function connect(args: { target: Target; url: string; specs: ConnSpec[]; addresses: string[]; concurrency: number }) {
  target = args.target;
  const started = performance.now();
  const list: Conn[] = new Array(args.specs.length);
  let nextIndex = 0;
  let failed = 0;
  const runOne = async (): Promise<void> => {
    while (nextIndex < args.specs.length) {
      const i = nextIndex++;
      const spec = args.specs[i];
      const addr = args.addresses[i % args.addresses.length];
      const peerId = () => (spec.peer >= 0 ? args.specs[spec.peer].id : spec.id);
      try {
        list[i] =
          target === 'kkchat'
            ? await openKKChat(args.url, spec, addr)
            : target === 'ws'
              ? await openWs(args.url, spec, addr, peerId)
              : await openSio(args.url, spec, addr, peerId);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.specs.length) }, runOne));
  conns.push(...list.filter(Boolean));
  return { ms: performance.now() - started, connected: conns.length, failed };
}

async function closeAll() {
  for (const c of conns) c.close();
  conns = [];
  for (const c of storm) c.client.disconnect();
  storm = [];
  await new Promise((r) => setTimeout(r, 300));
  return { ok: true };
}

/**
 * Open-loop load: every connection with a peer sends at ratePerSec / senders, in 10 ms ticks, for durationMs.
 * Counts acks and deliveries that arrive inside the window, then waits (up to drainMs) for the rest.
 */
async function load(args: { ratePerSec: number; durationMs: number; drainMs: number }) {
  const senders = conns.filter((c) => c.spec.peer >= 0 && c.online);
  const base = { sent: stats.sent, acked: stats.acked, delivered: stats.delivered, errors: stats.errors };
  stats.ackLat = [];
  stats.delLat = [];
  stats.counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let owed = 0;
  let cursor = 0;
  await new Promise<void>((done) => {
    let last = t0;
    const timer = setInterval(() => {
      const tick = performance.now();
      const end = Math.min(tick, t0 + args.durationMs);
      owed += ((end - last) / 1000) * args.ratePerSec;
      last = end;
      while (owed >= 1 && senders.length > 0) {
        const c = senders[cursor++ % senders.length];
        if (c.online) {
          c.send(now().toFixed(3));
          stats.sent++;
        }
        owed--;
      }
      if (tick >= t0 + args.durationMs) {
        clearInterval(timer);
        done();
      }
    }, 10);
  });
  const windowMs = performance.now() - t0;
  const inWindow = { acked: stats.acked - base.acked, delivered: stats.delivered - base.delivered };
  const sent = stats.sent - base.sent;
  const drainStart = performance.now();
  while (performance.now() - drainStart < args.drainMs) {
    if (stats.acked - base.acked >= sent && stats.delivered - base.delivered >= sent) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  stats.counting = false;
  const cpu = process.cpuUsage(cpu0);
  return {
    windowMs,
    sent,
    ackedInWindow: inWindow.acked,
    deliveredInWindow: inWindow.delivered,
    ackedTotal: stats.acked - base.acked,
    deliveredTotal: stats.delivered - base.delivered,
    errors: stats.errors - base.errors,
    errorCodes: Object.fromEntries(errorCodes),
    drainMs: performance.now() - drainStart,
    ackLat: stats.ackLat,
    delLat: stats.delLat,
    cpuMs: (cpu.user + cpu.system) / 1000,
    elapsedMs: performance.now() - t0,
  };
}

async function dropAll() {
  for (const c of conns) c.drop();
  return { dropped: conns.length };
}

async function waitOnline(args: { timeoutMs: number }) {
  const t0 = performance.now();
  while (performance.now() - t0 < args.timeoutMs) {
    if (conns.every((c) => c.online)) return { ms: performance.now() - t0, online: conns.length, total: conns.length };
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ms: performance.now() - t0, online: conns.filter((c) => c.online).length, total: conns.length };
}

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

async function stormConnect(args: { url: string; users: { auth: AuthResult; conversationId: string }[]; addresses: string[]; concurrency: number }) {
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
async function stormDrop(args: { url: string; perConversation: number; concurrency: number }) {
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
async function stormWait(args: { timeoutMs: number }) {
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

// ---- HTTP load: history pages and logins, closed loop --------------------------------------------------------------

async function httpLoad(args: {
  url: string;
  kind: 'history' | 'login';
  durationMs: number;
  concurrency: number;
  items: { auth?: AuthResult; conversationId?: string; username?: string; password?: string }[];
}) {
  const lat: number[] = [];
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const clients = args.items.map((item) => {
    const http = new HttpClient({ baseUrl: args.url, validateResponses: false, requestTimeoutMs: 60_000 });
    if (item.auth) http.setSession(item.auth);
    return http;
  });
  let n = 0;
  const runOne = async () => {
    while (performance.now() - t0 < args.durationMs) {
      const i = n++ % args.items.length;
      const item = args.items[i];
      const s = performance.now();
      try {
        if (args.kind === 'history') {
          await clients[i].request('GET', `/conversations/${item.conversationId}/messages`, { query: { limit: 50 } });
        } else {
          await clients[i].request('POST', '/auth/login', { body: { username: item.username, password: item.password }, auth: false });
        }
        ok++;
        sample(lat, performance.now() - s, ok);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, runOne));
  const cpu = process.cpuUsage(cpu0);
  return { ok, failed, elapsedMs: performance.now() - t0, lat, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const handlers: Record<string, (args: never) => Promise<unknown>> = {
  connect,
  closeAll,
  load,
  dropAll,
  waitOnline,
  stormConnect,
  stormDrop,
  stormWait,
  httpLoad,
  fanoutTrack: async (args: { on: boolean }) => {
    trackFanout = args.on;
    fanout.clear();
    return { ok: true };
  },
  fanoutCollect: async () => {
    const out = [...fanout].map(([text, e]) => [text, e.n, e.max] as [string, number, number]);
    fanout.clear();
    return out;
  },
  cpu: async () => {
    const c = process.cpuUsage();
    return { cpuMs: (c.user + c.system) / 1000, rss: process.memoryUsage().rss };
  },
};

process.on('message', (msg: { id: number; cmd: string; args: never }) => {
  const handler = handlers[msg.cmd];
  if (!handler) {
    process.send?.({ id: msg.id, error: `unknown command ${msg.cmd}` });
    return;
  }
  handler(msg.args).then(
    (result) => process.send?.({ id: msg.id, result }),
    (error: unknown) => process.send?.({ id: msg.id, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
