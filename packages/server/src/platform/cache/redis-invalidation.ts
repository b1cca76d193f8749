import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisClient, RedisConnection } from '../redis/connection.js';
import type { InvalidationChannel } from './invalidation.js';

/** Invalidations that could not be published, replayed at recovery; past this many, everyone is told to reset. */
const MAX_HELD = 10_000;

/**
 * Invalidation over Redis pub/sub on `<prefix>invalidate`. Pub/sub delivers at most once, and only to connected
 * subscribers, so a subscriber that was cut off resets its caches when it is back, and invalidations this node
 * could not publish are published when Redis returns (or a reset for everyone if too many piled up).
 */
export class RedisInvalidationChannel implements InvalidationChannel {
  private readonly origin = randomUUID();
  private readonly listeners: Array<(scope: string, id: string) => void> = [];
  private readonly resetListeners: Array<() => void> = [];
  private readonly held = new Set<string>();
  private overflowed = false;
  private subscribed = false;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly subscriber: RedisClient,
    private readonly log: Logger,
  ) {
    redis.onRecovery(() => this.recover());
    redis.onLoss(() => this.reset());
    subscriber.on('end', () => this.cutOff());
    subscriber.on('error', () => this.cutOff());
    subscriber.on('ready', () => {
      if (!this.subscribed) {
        this.subscribed = true;
        this.reset(); // back after a cut: anything may have been missed
      }
    });
  }

  static async open(redis: RedisConnection, log: Logger): Promise<RedisInvalidationChannel> {
    const subscriber = await redis.subscriber();
    const channel = new RedisInvalidationChannel(redis, subscriber, log);
    await subscriber.subscribe(redis.key('invalidate'), (message) => channel.receive(message));
    channel.subscribed = true;
    return channel;
  }

  get reliable(): boolean {
    return this.subscribed && this.redis.up;
  }

  async publish(scope: string, id: string): Promise<void> {
    const message = JSON.stringify({ s: scope, i: id, o: this.origin });
    try {
      if (!this.redis.up) throw new Error('redis is down');
      await this.redis.run((c) => c.publish(this.redis.key('invalidate'), message));
    } catch {
      if (this.held.size < MAX_HELD) this.held.add(`${scope}\u0000${id}`);
      else this.overflowed = true;
    }
  }

  subscribe(listener: (scope: string, id: string) => void): void {
    this.listeners.push(listener);
  }

  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  async close(): Promise<void> {
    this.subscribed = false;
    await this.subscriber.unsubscribe().catch(() => undefined);
  }

  private receive(raw: string): void {
    let message: { s?: unknown; i?: unknown; o?: unknown };
    try {
      message = JSON.parse(raw) as typeof message;
    } catch {
      return;
    }
    if (message.o === this.origin) return;
    if (message.s === '*') {
      this.reset();
      return;
    }
    if (typeof message.s !== 'string' || typeof message.i !== 'string') return;
    for (const listener of this.listeners) listener(message.s, message.i);
  }

  private cutOff(): void {
    this.subscribed = false;
  }

  private reset(): void {
    for (const listener of this.resetListeners) listener();
  }

  private async recover(): Promise<void> {
    this.reset();
    const held = [...this.held];
    this.held.clear();
    if (this.overflowed) {
      this.overflowed = false;
      await this.redis.run((c) => c.publish(this.redis.key('invalidate'), JSON.stringify({ s: '*', i: '', o: this.origin })));
      return;
    }
    for (const entry of held) {
      const [scope, id] = entry.split('\u0000') as [string, string];
      await this.publish(scope, id);
    }
    if (held.length > 0) this.log.info({ invalidations: held.length }, 'invalidations held during the outage published');
  }
}
