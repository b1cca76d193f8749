/** An in-memory WebSocket pair: the client half implements WebSocketLike, the server half is a FakeServer. */
import type { WebSocketCtor, WebSocketLike } from '../realtime.js';
import type { FakeConnection, FakeServer } from './fake-server.js';

export interface MemoryNetwork {
  WebSocket: WebSocketCtor;
  /** Every socket created, newest last. */
  sockets: MemorySocket[];
  /** While true, new sockets fail to connect (close 1006), like a server that is down. */
  down: boolean;
}

export class MemorySocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  conn: FakeConnection | null = null;
  private peer: { receive(text: string): void; closed(): void } | null = null;

  constructor(
    readonly url: string,
    server: FakeServer,
    network: MemoryNetwork,
  ) {
    setTimeout(() => {
      if (this.readyState !== 0) return;
      if (network.down) {
        this.readyState = 3;
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: '' });
        return;
      }
      const peer = server.attach({
        send: (text) => setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: text }), 0),
        close: (code, reason) =>
          setTimeout(() => {
            if (this.readyState === 3) return;
            this.readyState = 3;
            this.onclose?.({ code, reason });
          }, 0),
      });
      this.peer = peer;
      this.conn = peer.conn;
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('WebSocket is not open');
    const peer = this.peer;
    setTimeout(() => peer?.receive(data), 0);
  }

  close(code = 1005, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.peer?.closed();
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}

/** A WebSocket constructor bound to one fake server. */
export function memoryNetwork(server: FakeServer): MemoryNetwork {
  const network: MemoryNetwork = {
    sockets: [],
    down: false,
    WebSocket: class extends MemorySocket {
      constructor(url: string) {
        super(url, server, network);
        network.sockets.push(this);
      }
    },
  };
  return network;
}
