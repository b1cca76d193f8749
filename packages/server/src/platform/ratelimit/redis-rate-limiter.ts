import { RedisScript, type RedisConnection } from '../redis/connection.js';
import { LUA_ALIVE, type DeadNode, type NodeRegistry } from '../redis/node-registry.js';
import { LocalSlots, MemoryRateLimiter, type RateDecision, type RateLimit, type RateLimiter, type SlotRelease } from './rate-limiter.js';

/**
 * The token bucket of MemoryRateLimiter, read, refilled, taken from and written back in one step. A bucket
 * idle for a whole window is full again, which is what a missing key means, so each key expires after its
 * window. KEYS: rl:<key>; ARGV: limit, window ms, cost, now, 1 to take (0 to peek). Returns {allowed, retry ms}.
 */
const TAKE = new RedisScript(`
local limit, window, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = limit
else
  local elapsed = now - updated
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(limit, tokens + elapsed * (limit / window))
end
local allowed = tokens >= cost
if allowed and ARGV[5] == '1' then tokens = tokens - cost end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', now)
  redis.call('PEXPIRE', KEYS[1], window)
end
if allowed then return {1, 0} end
return {0, math.max(1, math.ceil((cost - tokens) / (limit / window)))}
`);

/**
 * Takes a slot when the count over live nodes stays within the maximum, writing this node's new count (an
 * absolute value, so a repeat is harmless). KEYS: slots:<node>; ARGV: prefix, node, slot key, this node's
 * count including the new slot, max.
 */
const ACQUIRE = new RedisScript(`${LUA_ALIVE}
local prefix, node, field, count, max = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local total = count
for _, other in ipairs(redis.call('HKEYS', prefix .. 'nodes')) do
  if other ~= node and alive(prefix, other) then
    total = total + (tonumber(redis.call('HGET', prefix .. 'slots:' .. other, field)) or 0)
  end
end
if total > max then return 0 end
redis.call('HSET', KEYS[1], field, count)
return 1
`);

/**
 * Rate limits shared by every node (docs/architecture.md, Redis). While Redis is unreachable each node falls back
 * to its own in-memory buckets: limits still hold, per node, instead of failing every login or letting
 * everything through. Socket slots are counted by each node (that count is exact) and mirrored to Redis, where
 * the check sums the live nodes.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly fallback: MemoryRateLimiter;
  private readonly slots = new LocalSlots();

  constructor(
    private readonly redis: RedisConnection,
    private readonly nodes: NodeRegistry,
    private readonly now: () => number = Date.now,
  ) {
    this.fallback = new MemoryRateLimiter(now);
    nodes.addSweeper((node) => this.sweep(node));
    nodes.onRenew((oldId) => this.rewriteSlots(oldId));
  }

  consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    return this.decide(key, limit, cost, true);
  }

  peek(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    return this.decide(key, limit, cost, false);
  }

  async reset(key: string): Promise<void> {
    await this.fallback.reset(key);
    if (!this.redis.up) return;
    await this.redis.run((c) => c.del(this.redis.key(`rl:${key}`))).catch(() => undefined);
  }

  async acquireSlot(key: string, max: number): Promise<SlotRelease | null> {
    if (this.slots.count(key) >= max) return null;
    const count = this.slots.take(key);
    if (this.redis.up) {
      let allowed = true;
      try {
        const node = this.nodes.id;
        allowed = Number(await this.redis.eval(ACQUIRE, [this.redis.key(`slots:${node}`)], [this.redis.prefix, node, key, count, max])) === 1;
      } catch {
        // Degraded: this node's count was within the maximum.
      }
      if (!allowed) {
        this.slots.give(key);
        return null;
      }
    }
    return this.slots.releaser(key, (left) => this.writeSlot(key, left));
  }

  get slotKeys(): number {
    return this.slots.size;
  }

  close(): void {
    this.fallback.close();
  }

  private async decide(key: string, limit: RateLimit, cost: number, take: boolean): Promise<RateDecision> {
    if (this.redis.up) {
      try {
        const [allowed, retryAfterMs] = (await this.redis.eval(
          TAKE,
          [this.redis.key(`rl:${key}`)],
          [limit.limit, limit.windowMs, cost, this.now(), take ? 1 : 0],
        )) as number[];
        return { allowed: Number(allowed) === 1, retryAfterMs: Number(retryAfterMs) };
      } catch {
        // Degraded: per-node buckets below.
      }
    }
    return take ? this.fallback.consume(key, limit, cost) : this.fallback.peek(key, limit, cost);
  }

  private writeSlot(key: string, count: number): void {
    if (!this.redis.up) return;
    const hash = this.redis.key(`slots:${this.nodes.id}`);
    void this.redis.run((c) => (count > 0 ? c.hSet(hash, key, String(count)) : c.hDel(hash, key))).catch(() => undefined);
  }

  /** After an outage, under the node's new id: this node's exact counts. */
  private async rewriteSlots(oldId: string): Promise<void> {
    const entries = [...this.slots.entries()];
    await this.redis.run((c) => {
      const multi = c.multi().del(this.redis.key(`slots:${oldId}`));
      if (entries.length > 0) multi.hSet(this.redis.key(`slots:${this.nodes.id}`), Object.fromEntries(entries.map(([k, v]) => [k, String(v)])));
      return multi.exec();
    });
  }

  private async sweep(node: DeadNode): Promise<boolean> {
    await this.redis.run((c) => c.del(this.redis.key(`slots:${node.id}`)));
    return true;
  }
}
