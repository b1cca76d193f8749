import type { Logger } from 'pino';
import { RedisScript, type RedisConnection } from '../redis/connection.js';
import { LUA_ALIVE, type DeadNode, type NodeRegistry } from '../redis/node-registry.js';
import type { PresenceChange, PresenceStore } from './presence-store.js';

/**
 * Sets this node's count of a user's sockets (an absolute value: a repeated write changes nothing) and, when
 * `old` is given, removes the count a previous id of this node held. Returns the user's total over live nodes
 * before and after. KEYS: presence:<user>, presence-index:<node>, presence-index:<old node>.
 * ARGV: prefix, node, user, count, old node or ''.
 */
const SET_COUNT = new RedisScript(`${LUA_ALIVE}
local prefix, node, user, count, old = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local before = sumAlive(prefix, KEYS[1])
if old ~= '' then
  redis.call('HDEL', KEYS[1], old)
  redis.call('SREM', KEYS[3], user)
end
if count > 0 then
  redis.call('HSET', KEYS[1], node, count)
  redis.call('SADD', KEYS[2], user)
else
  redis.call('HDEL', KEYS[1], node)
  redis.call('SREM', KEYS[2], user)
end
local after = sumAlive(prefix, KEYS[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return {before, after}
`);

/** 1 or 0 per key: whether the user has a socket on a live node. KEYS: presence:<user>…; ARGV: prefix. */
const ONLINE = new RedisScript(`${LUA_ALIVE}
local result = {}
for i, key in ipairs(KEYS) do
  result[i] = sumAlive(ARGV[1], key) > 0 and 1 or 0
end
return result
`);

/**
 * Pops up to ARGV[3] users of a dead node, removes that node's count from each, and returns how many it popped
 * followed by the users now offline everywhere. SPOP hands each user to one sweeper, so nodes sweeping at once
 * announce each user once. KEYS: presence-index:<dead>; ARGV: prefix, dead node, batch size.
 */
const SWEEP = new RedisScript(`${LUA_ALIVE}
local prefix, dead = ARGV[1], ARGV[2]
local users = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
local result = {#users}
for _, user in ipairs(users) do
  local key = prefix .. 'presence:' .. user
  redis.call('HDEL', key, dead)
  if sumAlive(prefix, key) == 0 then table.insert(result, user) end
  if redis.call('HLEN', key) == 0 then redis.call('DEL', key) end
end
return result
`);

const SWEEP_BATCH = 200;

/**
 * Presence across nodes (see docs/architecture.md, Redis). This node's own sockets are known exactly in memory;
 * Redis holds every node's per-user counts, written as absolute values. While Redis is unreachable the store
 * answers from this node's view: "came online" still goes out, "went offline" is held back (another node may
 * hold the user), and on recovery the node takes a new id, rewrites its counts and announces what changed.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly local = new Map<string, Set<string>>();
  /** Users whose last socket here closed while Redis could not be told. */
  private readonly pendingOffline = new Set<string>();
  private readonly listeners: Array<(changes: PresenceChange[]) => void> = [];
  private handedOff = false;
  private resync: Promise<void> | null = null;

  constructor(
    private readonly redis: RedisConnection,
    private readonly nodes: NodeRegistry,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    nodes.addSweeper((node) => this.sweep(node));
    nodes.onRenew((oldId) => this.rewrite(oldId));
  }

  async connect(userId: string, connectionId: string): Promise<{ becameOnline: boolean }> {
    let set = this.local.get(userId);
    if (!set) this.local.set(userId, (set = new Set()));
    if (set.has(connectionId)) return { becameOnline: false };
    set.add(connectionId);
    this.pendingOffline.delete(userId);
    const count = set.size;
    if (!this.redis.up) return { becameOnline: count === 1 };
    try {
      const [before, after] = await this.setCount(userId, count);
      return { becameOnline: before === 0 && after > 0 };
    } catch {
      return { becameOnline: count === 1 };
    }
  }

  async disconnect(userId: string, connectionId: string): Promise<{ becameOffline: boolean }> {
    const set = this.local.get(userId);
    if (!set || !set.delete(connectionId)) return { becameOffline: false };
    const count = set.size;
    if (count === 0) this.local.delete(userId);
    if (this.handedOff) return { becameOffline: false };
    if (!this.redis.up) {
      if (count === 0) this.pendingOffline.add(userId);
      return { becameOffline: false };
    }
    try {
      const [before, after] = await this.setCount(userId, count);
      return { becameOffline: before > 0 && after === 0 };
    } catch {
      if (count === 0) this.pendingOffline.add(userId);
      return { becameOffline: false };
    }
  }

  async online(userIds: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(userIds)];
    if (unique.length > 0 && this.redis.up) {
      try {
        const flags = (await this.redis.eval(ONLINE, unique.map((id) => this.redis.key(`presence:${id}`)), [this.redis.prefix])) as number[];
        return new Set(unique.filter((_, i) => Number(flags[i]) === 1));
      } catch {
        // Degraded: this node's own view.
      }
    }
    return new Set(unique.filter((id) => (this.local.get(id)?.size ?? 0) > 0));
  }

  onChange(listener: (changes: PresenceChange[]) => void): void {
    this.listeners.push(listener);
  }

  handOff(): void {
    this.handedOff = true;
  }

  /** Stops beating. After handOff() the entries stay for the sweeper; otherwise this node clears its own. */
  async close(): Promise<void> {
    await this.resync?.catch(() => undefined);
    if (!this.handedOff && this.redis.up) {
      for (const userId of [...this.local.keys()]) {
        this.local.delete(userId);
        await this.setCount(userId, 0).catch(() => undefined);
      }
    }
    await this.nodes.stop();
  }

  /** Users with sockets on this node (tests check nothing leaks). */
  get size(): number {
    return this.local.size;
  }

  private async setCount(userId: string, count: number, oldNode = ''): Promise<[number, number]> {
    const node = this.nodes.id;
    const keys = [this.redis.key(`presence:${userId}`), this.redis.key(`presence-index:${node}`), this.redis.key(`presence-index:${oldNode || node}`)];
    const [before, after] = (await this.redis.eval(SET_COUNT, keys, [this.redis.prefix, node, userId, count, oldNode])) as number[];
    return [Number(before), Number(after)];
  }

  /** The sweeper's part for presence: takes a dead node's users offline, batch by batch. */
  private async sweep(node: DeadNode): Promise<boolean> {
    for (;;) {
      const result = (await this.redis.eval(SWEEP, [this.redis.key(`presence-index:${node.id}`)], [this.redis.prefix, node.id, SWEEP_BATCH])) as Array<number | string>;
      const popped = Number(result[0]);
      const offline = result.slice(1).map(String);
      if (offline.length > 0) {
        this.log.info({ node: node.id, users: offline.length }, 'presence: users of a dead node swept offline');
        this.emit(offline.map((userId) => ({ userId, online: false, at: node.lastBeatAt })));
      }
      if (popped < SWEEP_BATCH) return true;
    }
  }

  /**
   * After an outage, under this node's new id: every local count written, the old id's counts removed user by
   * user, and the transitions announced.
   */
  private rewrite(old: string): Promise<void> {
    this.resync = this.rewriteCounts(old).finally(() => {
      this.resync = null;
    });
    return this.resync;
  }

  private async rewriteCounts(old: string): Promise<void> {
    const changes: PresenceChange[] = [];
    const at = this.now();
    for (const [userId, set] of [...this.local]) {
      if (set.size === 0) continue;
      const [before, after] = await this.setCount(userId, set.size, old);
      if (before === 0 && after > 0) changes.push({ userId, online: true, at });
    }
    for (const userId of [...this.pendingOffline]) {
      if (this.local.has(userId)) continue;
      const [, after] = await this.setCount(userId, 0, old);
      // Friends saw the user online before the outage; tell them unless another node still holds them.
      if (after === 0) changes.push({ userId, online: false, at });
    }
    this.pendingOffline.clear();
    this.log.info({ node: this.nodes.id, users: this.local.size, changes: changes.length }, 'presence re-registered after redis recovered');
    this.emit(changes);
  }

  private emit(changes: PresenceChange[]): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) listener(changes);
  }
}
