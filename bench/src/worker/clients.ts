/** One client connection per target: KKChat through the SDK's Realtime, the bare ws relay, the Socket.IO relay. */
import WebSocket from 'ws';
import { io as ioClient, type Socket as SioSocket } from 'socket.io-client';
import { Realtime, type WebSocketCtor } from '@kkchat/client';
import type { ServerFrame } from '@kkchat/protocol';
import { errorCodes, onAck, onDeliver, stats, textOf } from './measure.js';

export type Target = 'kkchat' | 'ws' | 'sio';

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

export interface Conn {
  spec: ConnSpec;
  send(text: string): void;
  close(): void;
  /** Drops the socket without a closing handshake (network loss); the client reconnects by itself. */
  drop(): void;
  online: boolean;
}


/** A WebSocket constructor for the SDK that binds the client side to one loopback address. */
export function wsCtor(localAddress: string, registry?: Set<WebSocket>): WebSocketCtor {
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

export function openKKChat(url: string, spec: ConnSpec, addr: string): Promise<Conn> {
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

export function openWs(url: string, spec: ConnSpec, addr: string, peerId: () => string): Promise<Conn> {
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

export function openSio(url: string, spec: ConnSpec, addr: string, peerId: () => string): Promise<Conn> {
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
