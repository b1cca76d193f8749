import type { ServerFrame } from '@kkchat/protocol';

/**
 * What services publish after a commit. Each event names its audience explicitly (design notes §3: a wrong
 * audience is a security bug); the gateway of every node delivers to the matching sockets it holds.
 */
export type BusEvent =
  | {
      kind: 'deliver';
      /** Users whose every connected device receives the frame. */
      userIds: string[];
      frame: ServerFrame;
      /** A connection that already has the information (e.g. the sender's own socket got an ack). */
      exceptConnectionId?: string;
      /** For message frames: when the message was committed (ms since the epoch), for the delivery latency metric. */
      committedAt?: number;
    }
  | {
      kind: 'deliver-connections';
      /** Specific sockets (e.g. the two devices in a call); a node delivers to those it holds. */
      connectionIds: string[];
      frame: ServerFrame;
    }
  | {
      kind: 'close-sessions';
      sessionIds: string[];
      code: number;
      reason: string;
    }
  | {
      kind: 'close-user';
      userId: string;
      code: number;
      reason: string;
      /** Keep this session's sockets open (e.g. the device that changed the password). */
      exceptSessionId?: string;
    };

export type BusHandler = (event: BusEvent) => void;

/** Carries events between the services and the gateways. In-process here; Kafka in cluster mode. */
export interface EventBus {
  publish(event: BusEvent): Promise<void>;
  subscribe(handler: BusHandler): () => void;
  close(): Promise<void>;
  /** Resolves when the bus can carry events now (its broker answers); /readyz reports a rejection. Optional. */
  checkHealth?(): Promise<void>;
}

/** The embedded bus: delivers synchronously to every subscriber in this process. */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Set<BusHandler>();

  async publish(event: BusEvent): Promise<void> {
    for (const handler of this.handlers) handler(event);
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
