import type { CallSignal, ServerFrame } from '@kkchat/protocol';

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
    }
  | {
      /** A call frame or a device's connect/disconnect, for the node process that holds the call's state. */
      kind: 'call-command';
      /** Instance id of that node process. */
      to: string;
      callId: string;
      command: CallCommand;
    };

/** What a device did about a call, taken by the node that received it to the node that owns the call. */
export interface CallCommand {
  action: 'accept' | 'reject' | 'cancel' | 'hangup' | 'signal' | 'connected' | 'disconnected';
  actor: { userId: string; sessionId: string; connectionId: string };
  /** The client's request id: the owner answers `call.ok` or `error` with it to the device's connection. */
  rid?: string;
  reason?: 'hangup' | 'failed';
  signal?: CallSignal;
}

export type BusHandler = (event: BusEvent) => void;

/**
 * Carries events between the services and the gateways: in-process in the embedded mode, Kafka in cluster mode
 * (kafka-event-bus.ts). `publish` hands the event over and does not wait for the subscribers; every subscriber of
 * every node then gets it once, and events with the same key (event-keys.ts) in the order they were published.
 */
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
