/** A limit: at most `limit` units per `windowMs`, refilled continuously (token bucket). */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** When not allowed: how long until `cost` units are available again. */
  retryAfterMs: number;
}

/** Gives back a slot taken with acquireSlot (calling it again does nothing). */
export type SlotRelease = () => void;

/**
 * Shared counters for limits on login, sends, friend requests, plus concurrent slots (open sockets per client
 * address). In-memory here; Redis in cluster mode (redis-rate-limiter.ts), shared by every node.
 */
export interface RateLimiter {
  consume(key: string, limit: RateLimit, cost?: number): Promise<RateDecision>;
  /** Looks without consuming. */
  peek(key: string, limit: RateLimit, cost?: number): Promise<RateDecision>;
  reset(key: string): Promise<void>;
  /** Takes one of at most `max` concurrent slots of `key`; null when all are taken. */
  acquireSlot(key: string, max: number): Promise<SlotRelease | null>;
  /** Keys for which this process holds slots (tests check that nothing leaks). */
  readonly slotKeys: number;
  close(): Promise<void> | void;
}

/** Slots held by this process, per key; entries go at zero. */
export class LocalSlots {
  private readonly counts = new Map<string, number>();

  get size(): number {
    return this.counts.size;
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }

  take(key: string): number {
    const next = this.count(key) + 1;
    this.counts.set(key, next);
    return next;
  }

  give(key: string): number {
    const next = this.count(key) - 1;
    if (next > 0) this.counts.set(key, next);
    else this.counts.delete(key);
    return Math.max(0, next);
  }

  /** A release function that gives the slot back once. */
  releaser(key: string, after?: (count: number) => void): SlotRelease {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.give(key);
      after?.(left);
    };
  }
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly slots = new LocalSlots();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Full buckets carry no information; drop them so the map does not grow with every key ever seen.
    this.sweepTimer = setInterval(() => this.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    const bucket = this.refill(key, limit);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, retryAfterMs: 0 };
    }
    return { allowed: false, retryAfterMs: this.waitFor(bucket, limit, cost) };
  }

  async peek(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    const bucket = this.refill(key, limit);
    if (bucket.tokens >= cost) return { allowed: true, retryAfterMs: 0 };
    return { allowed: false, retryAfterMs: this.waitFor(bucket, limit, cost) };
  }

  async reset(key: string): Promise<void> {
    this.buckets.delete(key);
  }

  async acquireSlot(key: string, max: number): Promise<SlotRelease | null> {
    if (this.slots.count(key) >= max) return null;
    this.slots.take(key);
    return this.slots.releaser(key);
  }

  get slotKeys(): number {
    return this.slots.size;
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  private refill(key: string, limit: RateLimit): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: limit.limit, updatedAt: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const rate = limit.limit / limit.windowMs;
    bucket.tokens = Math.min(limit.limit, bucket.tokens + (now - bucket.updatedAt) * rate);
    bucket.updatedAt = now;
    return bucket;
  }

  private waitFor(bucket: Bucket, limit: RateLimit, cost: number): number {
    const rate = limit.limit / limit.windowMs;
    return Math.max(1, Math.ceil((cost - bucket.tokens) / rate));
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt > 15 * 60_000) this.buckets.delete(key);
    }
  }
}
