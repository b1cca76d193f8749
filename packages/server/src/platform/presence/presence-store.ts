/** A transition the store found by itself (not the answer to a connect or disconnect of this node). */
export interface PresenceChange {
  userId: string;
  online: boolean;
  /** When it happened: for a user swept offline, the dead node's last heartbeat. */
  at: number;
}

/**
 * Which users have at least one live connection. The gateway reports connects and disconnects; the store
 * answers whether a transition happened so that presence events go out once per change, not per device.
 * In-memory here; Redis with per-node epochs and a sweeper in cluster mode (redis-presence-store.ts).
 */
export interface PresenceStore {
  /** Records a connection; `becameOnline` is true when it is the user's first. */
  connect(userId: string, connectionId: string): Promise<{ becameOnline: boolean }>;
  /** Forgets a connection; `becameOffline` is true when it was the user's last. */
  disconnect(userId: string, connectionId: string): Promise<{ becameOffline: boolean }>;
  /** The subset of `userIds` that is online now. */
  online(userIds: readonly string[]): Promise<Set<string>>;
  /**
   * Transitions the store finds itself: users of a dead node swept offline, users announced again after an
   * outage. The presence service tells their friends.
   */
  onChange(listener: (changes: PresenceChange[]) => void): void;
  /**
   * Graceful shutdown: from now on disconnects change only this node's view, and close() leaves this node's
   * entries to the sweeper, so clients that reconnect elsewhere stay online without a flicker.
   */
  handOff(): void;
  close(): Promise<void>;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly connections = new Map<string, Set<string>>();

  async connect(userId: string, connectionId: string): Promise<{ becameOnline: boolean }> {
    let set = this.connections.get(userId);
    const becameOnline = !set || set.size === 0;
    if (!set) this.connections.set(userId, (set = new Set()));
    set.add(connectionId);
    return { becameOnline };
  }

  async disconnect(userId: string, connectionId: string): Promise<{ becameOffline: boolean }> {
    const set = this.connections.get(userId);
    if (!set || !set.delete(connectionId)) return { becameOffline: false };
    if (set.size > 0) return { becameOffline: false };
    // Free the entry: maps keyed by user must not outlive the user's connections (BR-41).
    this.connections.delete(userId);
    return { becameOffline: true };
  }

  async online(userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => (this.connections.get(id)?.size ?? 0) > 0));
  }

  /** One process holds every connection: nothing ever changes behind its back. */
  onChange(): void {}

  handOff(): void {}

  async close(): Promise<void> {}

  /** Number of users with entries; used by tests that check nothing leaks. */
  get size(): number {
    return this.connections.size;
  }
}
