/**
 * A small key-value cache every node sees the same way (session liveness). Never the source of truth: a miss,
 * an outage or an entry the cache does not trust all read as null, and the caller reads the database.
 * In memory here; Redis in cluster mode (redis-shared-cache.ts).
 */
export interface SharedCache {
  /** The value, or null when absent, expired, or not trusted (written before this node's last outage). */
  get(key: string): Promise<string | null>;
  /** Writes unconditionally. A write that fails is kept and replayed when the cache is back (tombstones). */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /**
   * Writes unless the current value is `guard`, atomically, so a fill from a database read that raced a
   * revocation never overwrites the revocation's tombstone. Best effort: a failure is ignored.
   */
  setUnless(key: string, value: string, ttlMs: number, guard: string): Promise<void>;
  close(): Promise<void> | void;
}

/** Most entries kept in memory; past this the oldest go first. */
const MAX_ENTRIES = 100_000;

export class MemorySharedCache implements SharedCache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweepTimer = setInterval(() => this.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  async get(key: string): Promise<string | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.delete(key); // re-inserted at the end: the oldest entries are the first to go
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }

  async setUnless(key: string, value: string, ttlMs: number, guard: string): Promise<void> {
    if ((await this.get(key)) === guard) return;
    await this.set(key, value, ttlMs);
  }

  /** Entries held (tests check that the map stays bounded). */
  get size(): number {
    return this.entries.size;
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
