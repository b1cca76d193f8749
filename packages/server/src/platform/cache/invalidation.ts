/**
 * Tells the other nodes that cached state changed (a group's members, a one-to-one conversation's blocks), so
 * their in-memory caches drop it. The caches never depend on it for correctness (sends are checked against
 * conversations.state_version); it keeps their entries fresh. In-process here; Redis pub/sub in cluster mode.
 */
export interface InvalidationChannel {
  /** Tells every other node that `id` of `scope` changed. The caller drops its own entry itself. */
  publish(scope: string, id: string): Promise<void>;
  /** Another node changed `id` of `scope`. */
  subscribe(listener: (scope: string, id: string) => void): void;
  /** Invalidations may have been missed (the channel was down): drop everything. */
  onReset(listener: () => void): void;
  /** False while invalidations cannot arrive; caches then keep entries only briefly. */
  readonly reliable: boolean;
  close(): Promise<void> | void;
}

/** What several in-process channels share (one per process in embedded mode; two in the contract tests). */
export class LocalInvalidationHub {
  readonly channels = new Set<LocalInvalidationChannel>();
}

export class LocalInvalidationChannel implements InvalidationChannel {
  readonly reliable = true;
  private readonly listeners: Array<(scope: string, id: string) => void> = [];

  constructor(private readonly hub: LocalInvalidationHub = new LocalInvalidationHub()) {
    hub.channels.add(this);
  }

  async publish(scope: string, id: string): Promise<void> {
    for (const channel of this.hub.channels) {
      if (channel !== this) for (const listener of channel.listeners) listener(scope, id);
    }
  }

  subscribe(listener: (scope: string, id: string) => void): void {
    this.listeners.push(listener);
  }

  onReset(): void {}

  close(): void {
    this.hub.channels.delete(this);
  }
}
