import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Database } from '../db/database.js';
import { InProcessEventBus, type EventBus } from './event-bus.js';
import { KafkaEventBus } from './kafka-event-bus.js';
import { DirectOutbox, TransactionalOutbox, type EventOutbox } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';

/** The bus, the outbox and (worker role, cluster mode) the relay, chosen by the configuration. */
export interface EventPlatform {
  bus: EventBus;
  outbox: EventOutbox;
  /** The Kafka bus in cluster mode; null in the embedded mode. */
  kafka: KafkaEventBus | null;
  /** This node's outbox relay (cluster mode, worker role). */
  relay: OutboxRelay | null;
  /** Stops the relay (its shards go to the other relays), then the bus. */
  close(): Promise<void>;
}

export async function createEventPlatform(
  config: Config,
  db: Database,
  log: Logger,
  instanceId: string,
  now: () => number,
  /** Embedded mode only: a bus to use instead of a new in-process one (tests run two nodes on one bus). */
  sharedBus?: EventBus,
  /** Cluster mode: where the consumer reports its lag (the /metrics gauge). */
  onLag?: (topic: string, partition: number, lag: number) => void,
): Promise<EventPlatform> {
  if (!config.kafka) {
    const bus = sharedBus ?? new InProcessEventBus();
    return { bus, outbox: new DirectOutbox(bus), kafka: null, relay: null, close: () => bus.close() };
  }
  const kafka = await KafkaEventBus.start({
    kafka: config.kafka,
    nodeId: config.nodeId,
    instanceId,
    consume: config.roles.has('gateway'),
    log: log.child({ component: 'kafka' }),
    ...(onLag ? { onLag } : {}),
  });
  const outbox = new TransactionalOutbox(now);
  let relay: OutboxRelay | null = null;
  if (config.roles.has('worker')) {
    relay = new OutboxRelay({
      db,
      publish: (records) => kafka.publishRecords(records),
      relayId: `${config.nodeId}.${instanceId}`,
      pollMs: config.outboxPollMs,
      log: log.child({ component: 'outbox-relay' }),
      now,
    });
    const started = relay;
    outbox.onCommit = () => started.wake();
    relay.start();
  }
  return {
    bus: kafka,
    outbox,
    kafka,
    relay,
    async close() {
      await relay?.stop();
      await kafka.close();
    },
  };
}
