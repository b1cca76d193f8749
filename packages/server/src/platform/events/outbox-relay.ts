import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { OUTBOX_SHARDS } from '../db/migrations/0005_cluster.js';
import type { BusRecord } from './kafka-event-bus.js';

export interface RelayOptions {
  db: Database;
  publish: (records: BusRecord[]) => Promise<void>;
  /** Unique per process: `<node id>.<instance id>`. */
  relayId: string;
  pollMs: number;
  log: Logger;
  now: () => number;
}

/** A shard's lease lasts this long unless renewed; a relay that dies loses its shards after at most this. */
export const LEASE_TTL_MS = 10_000;
/** Leases are renewed, and shards rebalanced, this often. */
const BALANCE_EVERY_MS = 2000;
/** A relay seen within this long counts as alive when shards are shared out. */
const RELAY_ALIVE_MS = 3 * BALANCE_EVERY_MS;
/** A relay publishes a shard only while its lease has at least this long to run (clock skew, a slow send). */
const LEASE_MARGIN_MS = 3000;
const BATCH = 500;

/**
 * Publishes the outbox to Kafka (worker role). The outbox is split into shards by event key; each shard is
 * relayed by one relay at a time, which holds a lease on it (`outbox_leases`, taken and renewed with a
 * conditional UPDATE, so two relays can never both hold one). The relays alive share the shards evenly: a relay
 * that joins gets some within seconds, the shards of one that stops are released at once, and those of one that
 * dies are taken over when its leases expire. A relay reads its shards' rows in id order (a conversation's rows
 * are in seq order, as its transactions are serialized by the seq counter), publishes them and waits for the
 * brokers' acknowledgement, then deletes them. A crash between the two publishes them again; consumers drop the
 * repeats by (conversation, seq).
 */
export class OutboxRelay {
  /** Shard → until when this relay holds its lease. */
  private readonly owned = new Map<number, number>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private nextBalanceAt = 0;
  private published = 0;

  constructor(private readonly options: RelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** A commit on this node: look at the outbox now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  stats(): { shards: number[]; published: number } {
    return { shards: [...this.owned.keys()].sort((a, b) => a - b), published: this.published };
  }

  /** Finishes the batch in flight, then gives the shards back so another relay takes them at once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    const { db, relayId } = this.options;
    try {
      await db.updateTable('outbox_leases').set({ owner: null, expires_at: 0 }).where('owner', '=', relayId).execute();
      await db.deleteFrom('outbox_relays').where('relay_id', '=', relayId).execute();
    } catch (error) {
      this.options.log.warn({ err: error }, 'outbox relay could not release its shards; they expire by themselves');
    }
    this.owned.clear();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let full = false;
      try {
        if (this.options.now() >= this.nextBalanceAt) {
          await this.balance();
          this.nextBalanceAt = this.options.now() + BALANCE_EVERY_MS;
        }
        full = (await this.relayBatch()) === BATCH;
        failures = 0;
      } catch (error) {
        failures++;
        // The database or the brokers are away; the rows stay and are published once both are back.
        if (failures === 1 || failures % 20 === 0) this.options.log.warn({ err: error, failures }, 'outbox relay failed; retrying');
      }
      if (!full && this.running) await this.pause(failures > 0 ? Math.min(250 * failures, 2000) : this.options.pollMs);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        this.woken = false;
        done();
      };
    });
  }

  /** Publishes the oldest rows of the shards held (safely within their leases), then deletes them. */
  private async relayBatch(): Promise<number> {
    const now = this.options.now();
    const shards = [...this.owned].filter(([, until]) => until - now > LEASE_MARGIN_MS).map(([shard]) => shard);
    if (shards.length === 0) return 0;
    const { db } = this.options;
    const rows = await db
      .selectFrom('outbox')
      .select(['id', 'event_key', 'payload'])
      .where('shard', 'in', shards)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) return 0;
    await this.options.publish(rows.map((r) => ({ key: r.event_key, value: r.payload })));
    await db.deleteFrom('outbox').where('id', 'in', rows.map((r) => r.id)).execute();
    this.published += rows.length;
    return rows.length;
  }

  /** Heartbeat, then renew, release or claim leases so each live relay holds its share of the shards. */
  private async balance(): Promise<void> {
    const { db, relayId } = this.options;
    const now = this.options.now();
    const seen = await db.updateTable('outbox_relays').set({ seen_at: now }).where('relay_id', '=', relayId).executeTakeFirst();
    if (Number(seen.numUpdatedRows) === 0) {
      // MySQL counts changed rows, so an unchanged seen_at (same millisecond) also lands here.
      await db.insertInto('outbox_relays').values({ relay_id: relayId, seen_at: now }).execute().catch((error: unknown) => {
        if (!isUniqueViolation(error)) throw error;
      });
    }
    const alive = await db
      .selectFrom('outbox_relays')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('seen_at', '>', now - RELAY_ALIVE_MS)
      .executeTakeFirst();
    const target = Math.ceil(OUTBOX_SHARDS / Math.max(1, Number(alive?.n ?? 1)));
    const leases = await db.selectFrom('outbox_leases').selectAll().orderBy('shard').execute();

    const mine = leases.filter((l) => l.owner === relayId).map((l) => Number(l.shard));
    for (const [index, shard] of mine.entries()) {
      if (index >= target) {
        await db.updateTable('outbox_leases').set({ owner: null, expires_at: 0 }).where('shard', '=', shard).where('owner', '=', relayId).execute();
        this.owned.delete(shard);
      } else if (await this.takeLease(shard, now)) this.owned.set(shard, now + LEASE_TTL_MS);
      else this.owned.delete(shard);
    }
    for (const shard of this.owned.keys()) if (!mine.includes(shard)) this.owned.delete(shard);

    for (const lease of leases) {
      if (this.owned.size >= target) break;
      const free = lease.owner === null || Number(lease.expires_at) < now;
      if (free && lease.owner !== relayId && (await this.takeLease(Number(lease.shard), now))) {
        this.owned.set(Number(lease.shard), now + LEASE_TTL_MS);
      }
    }
    // Relays gone for a minute are forgotten.
    await db.deleteFrom('outbox_relays').where('seen_at', '<', now - 60_000).execute();
  }

  /** Takes or renews a lease; only one relay's UPDATE can match a lease that is free or already its own. */
  private async takeLease(shard: number, now: number): Promise<boolean> {
    const { db, relayId } = this.options;
    const result = await db
      .updateTable('outbox_leases')
      .set({ owner: relayId, expires_at: now + LEASE_TTL_MS })
      .where('shard', '=', shard)
      .where((eb) => eb.or([eb('owner', '=', relayId), eb('owner', 'is', null), eb('expires_at', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
