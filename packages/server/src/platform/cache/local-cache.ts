import type { InvalidationChannel } from './invalidation.js';

/** While invalidations cannot arrive (Redis down), an entry is trusted this long. */
export const UNRELIABLE_TTL_MS = 5000;

/**
 * A per-process cache of loaded state, one scope of the invalidation channel: a change on this node drops the
 * entry and tells the others, a change elsewhere drops it here. Loads are shared by concurrent callers (the
 * promise is cached), a failed load is not kept, and an entry dropped while its load was in flight is not put
 * back, so a load that raced a change cannot outlive it. Bounded: past `max` entries the oldest goes.
 */
export class LocalCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; loadedAt: number }>();

  constructor(
    private readonly scope: string,
    private readonly load: (id: string) => Promise<T>,
    private readonly channel: InvalidationChannel,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {
    channel.subscribe((scope, id) => {
      if (scope === this.scope) this.entries.delete(id);
    });
    channel.onReset(() => this.entries.clear());
  }

  get(id: string): Promise<T> {
    const now = this.now();
    const entry = this.entries.get(id);
    if (entry && (this.channel.reliable || now - entry.loadedAt < UNRELIABLE_TTL_MS)) return entry.value;
    const value = this.load(id);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    const fresh = { value, loadedAt: now };
    this.entries.set(id, fresh);
    value.catch(() => this.entries.get(id) === fresh && this.entries.delete(id));
    return value;
  }

  /** This node changed `id`: drop it here and tell the other nodes. */
  invalidate(id: string): void {
    this.entries.delete(id);
    void this.channel.publish(this.scope, id);
  }

  /** Milliseconds since `id` was loaded (Infinity when it is not held). */
  age(id: string): number {
    const entry = this.entries.get(id);
    return entry ? this.now() - entry.loadedAt : Number.POSITIVE_INFINITY;
  }

  /** Drops `id` here only (a store found it stale; the node that changed it has told everyone). */
  forget(id: string): void {
    this.entries.delete(id);
  }

  /** Entries held (tests check the cache stays bounded). */
  get size(): number {
    return this.entries.size;
  }
}
