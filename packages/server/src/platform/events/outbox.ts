import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import { OUTBOX_SHARDS } from '../db/migrations/0005_cluster.js';
import type { BusEvent, EventBus } from './event-bus.js';
import { shardOf } from './event-keys.js';
import { toRecord } from './kafka-event-bus.js';

/**
 * How an event that announces stored data (a message) leaves the process. Services call `stage` inside the
 * transaction that stores the data and `committed` after it commits.
 *
 * - Embedded (`DirectOutbox`): nothing is staged; `committed` publishes on the in-process bus, as before.
 * - Cluster (`TransactionalOutbox`): `stage` writes the event as an `outbox` row in that same transaction, so the
 *   event exists exactly when the data does (design notes §3); the relay (outbox-relay.ts) publishes it to
 *   Kafka. `committed` only wakes this node's relay.
 */
export interface EventOutbox {
  /** True when events must be staged in the transaction (the caller then builds them inside it). */
  readonly transactional: boolean;
  stage(trx: Transaction<DB>, event: BusEvent): Promise<void>;
  committed(event: BusEvent): Promise<void>;
}

export class DirectOutbox implements EventOutbox {
  readonly transactional = false;
  constructor(private readonly bus: EventBus) {}

  async stage(): Promise<void> {}

  committed(event: BusEvent): Promise<void> {
    return this.bus.publish(event);
  }
}

export class TransactionalOutbox implements EventOutbox {
  readonly transactional = true;
  /** Set by the relay of this node (worker role): a commit here wakes it instead of waiting for its next poll. */
  onCommit: (() => void) | null = null;

  constructor(private readonly now: () => number) {}

  async stage(trx: Transaction<DB>, event: BusEvent): Promise<void> {
    const record = toRecord({ id: randomUUID(), event });
    await trx
      .insertInto('outbox')
      .values({ shard: shardOf(record.key, OUTBOX_SHARDS), event_key: record.key, payload: record.value, created_at: this.now() })
      .execute();
  }

  async committed(): Promise<void> {
    this.onCommit?.();
  }
}
