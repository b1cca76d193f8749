import type { Logger } from 'pino';
import { RedisScript, type RedisConnection } from '../redis/connection.js';
import type { SharedCache } from './shared-cache.js';

/** SET unless the stored value (after its `<writtenAt>|` stamp) is ARGV[3]. KEYS: cache:<key>; ARGV: stamped value, ttl, guard. */
const SET_UNLESS = new RedisScript(`
local current = redis.call('GET', KEYS[1])
if current then
  local bar = string.find(current, '|', 1, true)
  if bar and string.sub(current, bar + 1) == ARGV[3] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
`);

/** Writes that failed during an outage and are replayed at recovery (tombstones must not be lost). */
const MAX_HELD_WRITES = 10_000;

/**
 * The shared cache in Redis under `cache:<key>`. Each value is stamped with when it was written; after an
 * outage this node trusts only entries written after it recovered (another node's write may have failed
 * meanwhile, leaving an old value behind), and it first replays its own writes that failed.
 */
export class RedisSharedCache implements SharedCache {
  private readonly held = new Map<string, { value: string; ttlMs: number; heldAt: number }>();
  private distrustBefore = 0;

  constructor(
    private readonly redis: RedisConnection,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    redis.onRecovery(() => this.recover());
  }

  async get(key: string): Promise<string | null> {
    const pending = this.held.get(key);
    if (pending) return pending.value;
    if (!this.redis.up) return null;
    let stored: string | null;
    try {
      stored = await this.redis.run((c) => c.get(this.redis.key(`cache:${key}`)));
    } catch {
      return null;
    }
    if (stored === null) return null;
    const bar = stored.indexOf('|');
    if (bar < 0 || Number(stored.slice(0, bar)) < this.distrustBefore) return null;
    return stored.slice(bar + 1);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    try {
      if (!this.redis.up) throw new Error('redis is down');
      await this.redis.run((c) => c.set(this.redis.key(`cache:${key}`), this.stamp(value), { PX: ttlMs }));
      this.held.delete(key);
    } catch {
      if (this.held.size >= MAX_HELD_WRITES) this.held.delete(this.held.keys().next().value as string);
      this.held.set(key, { value, ttlMs, heldAt: this.now() });
    }
  }

  async setUnless(key: string, value: string, ttlMs: number, guard: string): Promise<void> {
    if (!this.redis.up) return;
    await this.redis.eval(SET_UNLESS, [this.redis.key(`cache:${key}`)], [this.stamp(value), ttlMs, guard]).catch(() => undefined);
  }

  close(): void {}

  private stamp(value: string): string {
    return `${this.now()}|${value}`;
  }

  private async recover(): Promise<void> {
    this.distrustBefore = this.now();
    const writes = [...this.held];
    for (const [key, write] of writes) {
      const left = write.ttlMs - (this.now() - write.heldAt);
      if (left > 0) await this.redis.run((c) => c.set(this.redis.key(`cache:${key}`), this.stamp(write.value), { PX: left }));
      this.held.delete(key);
    }
    if (writes.length > 0) this.log.info({ writes: writes.length }, 'shared cache: writes held during the outage replayed');
  }
}
