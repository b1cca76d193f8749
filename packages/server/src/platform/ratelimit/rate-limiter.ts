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

/** Shared counters for limits on login, sends, friend requests. In-memory here; Redis in cluster mode. */
export interface RateLimiter {
  consume(key: string, limit: RateLimit, cost?: number): Promise<RateDecision>;
  /** Looks without consuming. */
  peek(key: string, limit: RateLimit, cost?: number): Promise<RateDecision>;
  reset(key: string): Promise<void>;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
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
