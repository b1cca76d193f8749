import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './connection.js';

/** Lua: whether node `n` still beats. Shared by every script that sums per-node counts over live nodes. */
export const LUA_ALIVE = `
local function alive(prefix, node)
  return redis.call('EXISTS', prefix .. 'node:' .. node) == 1
end
local function sumAlive(prefix, key)
  local fields = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #fields, 2 do
    if alive(prefix, fields[i]) then total = total + tonumber(fields[i + 1]) end
  end
  return total
end
`;

export interface DeadNode {
  id: string;
  /** When it last beat (ms since the epoch). */
  lastBeatAt: number;
}

/**
 * This process's identity among the nodes sharing a Redis: a random id per start (its epoch: a restarted node
 * is a new node) kept alive by `node:<id>` with a TTL, renewed every third of it, and listed in the `nodes`
 * hash with its last beat so a sweeper can find it once the key has expired.
 */
export class NodeRegistry {
  private idValue = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private recovering: Promise<void> | null = null;
  private readonly sweepers: Array<(node: DeadNode) => Promise<boolean>> = [];
  private readonly renewHooks: Array<(oldId: string) => Promise<void>> = [];

  constructor(
    private readonly redis: RedisConnection,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    redis.onRecovery(() => this.recover());
  }

  /**
   * Runs `hook` after an outage, once this node has a new id and beats under it: each adapter rewrites its
   * per-node entries under the new id and removes the old id's (whatever is left goes to the sweeper).
   */
  onRenew(hook: (oldId: string) => Promise<void>): void {
    this.renewHooks.push(hook);
  }

  get id(): string {
    return this.idValue;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => undefined), Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
    // Every node sweeps; the sweepers' scripts hand each entry to one of them. Jitter spreads the nodes out.
    const every = Math.max(50, Math.floor(this.ttlMs / 3));
    this.sweepTimer = setInterval(() => void this.sweep(), every + Math.floor(Math.random() * (every / 5)));
    this.sweepTimer.unref();
  }

  /**
   * Registers a cleaner of a dead node's entries; it returns true once nothing of that node is left. The node
   * is forgotten when every cleaner has finished with it.
   */
  addSweeper(sweeper: (node: DeadNode) => Promise<boolean>): void {
    this.sweepers.push(sweeper);
  }

  /** One pass over the dead nodes (also called by tests that do not want to wait for the timer). */
  async sweep(): Promise<void> {
    if (this.sweeping || !this.redis.up) return;
    this.sweeping = true;
    try {
      for (const node of await this.deadNodes()) {
        let done = true;
        for (const sweeper of this.sweepers) done = (await sweeper(node)) && done;
        if (done) await this.forget(node.id);
      }
    } catch {
      // Redis went away mid-sweep; the connection has logged it and the next pass starts over.
    } finally {
      this.sweeping = false;
    }
  }

  async beat(): Promise<void> {
    const id = this.idValue;
    await this.redis.run((c) =>
      c.multi().set(this.redis.key(`node:${id}`), '1', { PX: this.ttlMs }).hSet(this.redis.key('nodes'), id, String(this.now())).exec(),
    );
  }

  /**
   * After an outage the node takes a new id: the others may have swept the old one already (the outage outlived
   * its heartbeat) or be sweeping it, so nothing is written under it any more. The old heartbeat is deleted
   * once the adapters have moved their entries, and the sweepers take what is left.
   */
  private recover(): Promise<void> {
    if (this.timer === null) return Promise.resolve();
    this.recovering ??= this.moveToNewId().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async moveToNewId(): Promise<void> {
    const old = this.idValue;
    this.idValue = randomUUID();
    await this.beat();
    for (const hook of this.renewHooks) await hook(old);
    await this.redis.run((c) => c.del(this.redis.key(`node:${old}`)));
  }

  /** Nodes listed in `nodes` whose heartbeat has expired (never this one). */
  async deadNodes(): Promise<DeadNode[]> {
    const nodes = await this.redis.run((c) => c.hGetAll(this.redis.key('nodes')));
    const ids = Object.keys(nodes).filter((id) => id !== this.idValue);
    if (ids.length === 0) return [];
    const exists = await this.redis.run((c) => {
      const multi = c.multi();
      for (const id of ids) multi.exists(this.redis.key(`node:${id}`));
      return multi.exec();
    });
    return ids.filter((_, i) => Number(exists[i]) === 0).map((id) => ({ id, lastBeatAt: Number(nodes[id]) }));
  }

  /** Removes a swept node from the registry. */
  async forget(id: string): Promise<void> {
    await this.redis.run((c) => c.hDel(this.redis.key('nodes'), id));
  }

  /** Stops beating and lets the heartbeat go at once: the sweepers take this node's entries from here. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.timer = null;
    this.sweepTimer = null;
    await this.redis.run((c) => c.del(this.redis.key(`node:${this.idValue}`))).catch(() => undefined);
  }
}
