import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaConfig as KafkaJsConfig, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../../config.js';
import { DeliveryDedupe } from './dedupe.js';
import type { BusEvent, BusHandler, EventBus } from './event-bus.js';
import { eventKey } from './event-keys.js';

/** What travels on the topic: the event and an id that stays the same when the event is sent again. */
export interface Envelope {
  id: string;
  event: BusEvent;
}

/** One record for the topic, as the outbox stores it. */
export interface BusRecord {
  key: string;
  value: string;
}

export interface KafkaBusOptions {
  kafka: KafkaConfig;
  /** This node's name; with `instanceId`, names the consumer group of this process. */
  nodeId: string;
  instanceId: string;
  /** Consume the topic and call the subscribers (gateways); publishing works either way. */
  consume: boolean;
  log: Logger;
  /** Reports how many events the consumer is behind, per partition, every 10 s (the lag metric). */
  onLag?: (topic: string, partition: number, lag: number) => void;
}

/** Direct events queued while the broker is unreachable; past this, new ones are dropped (and logged). */
const MAX_PENDING = 20_000;
/** A direct event not sent within this long is stale (typing, a call signal) and is dropped. */
const DIRECT_EVENT_TTL_MS = 30_000;
const SEND_BATCH = 500;
const JOIN_TIMEOUT_MS = 60_000;
const LAG_EVERY_MS = 10_000;

export function eventsTopic(kafka: KafkaConfig): string {
  return `${kafka.topicPrefix}events`;
}

/**
 * The cluster bus on Apache Kafka (kafkajs; docs/architecture.md says why that client). One topic,
 * `<prefix>events`, keyed per conversation / call / user (event-keys.ts).
 *
 * Publishing: events that announce a stored message come through the outbox relay (`publishRecords`, awaited
 * with acks from all in-sync replicas); every other event (`publish`) joins an in-memory queue that one loop
 * sends in order, retrying while the broker is away. Stale hints are dropped after 30 s, but closing sockets is
 * kept until it is sent.
 *
 * Consuming (gateways): each process reads every partition in a consumer group of its own, created for this
 * process and positioned at the end of the topic before `start` returns, so nothing published after the node
 * became ready is missed. Offsets are committed as events are delivered; after a rejoin (broker restart, a
 * long pause) the consumer resumes from the last commit and `DeliveryDedupe` drops what it had delivered.
 */
export class KafkaEventBus implements EventBus {
  readonly topic: string;
  private readonly client: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private consumer: Consumer | null = null;
  private readonly groupId: string;
  private readonly handlers = new Set<BusHandler>();
  private readonly dedupe = new DeliveryDedupe();
  private pending: { record: BusRecord; at: number; durable: boolean }[] = [];
  private pumping = false;
  private flushWaiters: (() => void)[] = [];
  private closed = false;
  private dropped = 0;
  private delivered = 0;
  /** Partition → the next offset this consumer will deliver (for the lag). */
  private readonly positions = new Map<number, bigint>();
  private lagTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: KafkaBusOptions) {
    this.topic = eventsTopic(options.kafka);
    this.groupId = `${options.kafka.topicPrefix}gateway.${options.nodeId}.${options.instanceId}`;
    this.client = new Kafka(clientConfig(options.kafka, options.nodeId, options.log));
    this.producer = this.client.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.admin = this.client.admin();
  }

  /** Connects, creates the topic when missing and, for a gateway, joins and positions the consumer. */
  static async start(options: KafkaBusOptions): Promise<KafkaEventBus> {
    const bus = new KafkaEventBus(options);
    try {
      await bus.admin.connect();
      await retrying(() => bus.ensureTopic());
      await bus.producer.connect();
      if (options.consume) {
        await bus.startConsumer(true);
        if (options.onLag) bus.watchLag(options.onLag);
      }
    } catch (error) {
      await bus.close().catch(() => undefined);
      throw new Error(`Kafka at ${options.kafka.brokers.join(',')}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return bus;
  }

  async publish(event: BusEvent): Promise<void> {
    if (this.closed) return;
    const durable = event.kind === 'close-sessions' || event.kind === 'close-user';
    if (this.pending.length >= MAX_PENDING && !durable) {
      this.countDrop('the send queue is full');
      return;
    }
    this.pending.push({ record: toRecord({ id: randomUUID(), event }), at: Date.now(), durable });
    void this.pump();
  }

  /** Sends records in order and resolves once the brokers have them; throws when they cannot be sent. */
  async publishRecords(records: BusRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.send({ topic: this.topic, acks: -1, messages: records });
  }

  /** /readyz: the brokers answer a metadata request. */
  async checkHealth(): Promise<void> {
    await this.admin.describeCluster();
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Resolves when every event published so far has been sent (or dropped). */
  flush(): Promise<void> {
    if (this.pending.length === 0 && !this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** Counters for tests and metrics. */
  stats(): { pending: number; dropped: number; delivered: number; dedupe: { eventIds: number; conversations: number } } {
    return { pending: this.pending.length, dropped: this.dropped, delivered: this.delivered, dedupe: this.dedupe.size() };
  }

  /**
   * Stops the consumer (the group is deleted: it belonged to this process) and the producer after a last
   * attempt, of at most 5 s, to send what is queued.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.flush(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    this.closed = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.handlers.clear();
    const consumer = this.consumer;
    this.consumer = null;
    if (consumer) {
      await consumer.disconnect().catch(() => undefined);
      await this.admin.deleteGroups([this.groupId]).catch(() => undefined);
    }
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    for (const resolve of this.flushWaiters.splice(0)) resolve();
  }

  private async ensureTopic(): Promise<void> {
    const topics = await this.admin.listTopics();
    if (topics.includes(this.topic)) return;
    const { partitions, replicationFactor } = this.options.kafka;
    // Another node may create it at the same moment; createTopics then answers false, which is fine.
    await this.admin.createTopics({ waitForLeaders: true, topics: [{ topic: this.topic, numPartitions: partitions, replicationFactor }] });
  }

  /**
   * `fresh`: at process start, the group is new and is positioned at the end of every partition (this node held
   * no socket before, so nothing earlier is for it). Otherwise (a crashed consumer) it resumes from its commits.
   */
  private async startConsumer(fresh: boolean): Promise<void> {
    // Right after the topic was created (maybe by another node) its leaders can still be moving: retry.
    const ends = fresh ? await retrying(() => this.admin.fetchTopicOffsets(this.topic)) : [];
    for (const end of ends) this.positions.set(end.partition, BigInt(end.high));
    const consumer = this.client.consumer({
      groupId: this.groupId,
      sessionTimeout: 15_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the consumer did not join its group within ${JOIN_TIMEOUT_MS / 1000} s`)), JOIN_TIMEOUT_MS);
      timer.unref();
      let positioned = false;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        // The new group starts at the end offsets read before it existed, so an event published in between is
        // not skipped; kafkajs commits a seek, so a rejoin later resumes there too. (Seeks are taken before the
        // first fetch after the join; earlier, kafkajs refuses them.)
        if (!positioned) for (const end of ends) consumer.seek({ topic: this.topic, partition: end.partition, offset: end.high });
        positioned = true;
        clearTimeout(timer);
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.options.log.error({ err: payload.error, restart: payload.restart }, 'Kafka consumer crashed');
      // kafkajs restarts it by itself when it can; otherwise a new consumer resumes from the group's commits.
      if (!payload.restart && !this.closed && this.consumer === consumer) {
        setTimeout(() => void this.restartConsumer(consumer), 1000).unref();
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: false });
    await consumer.run({
      autoCommitInterval: 1000,
      autoCommitThreshold: 200,
      eachMessage: async ({ partition, message }) => {
        this.positions.set(partition, BigInt(message.offset) + 1n);
        this.onRecord(message.value);
      },
    });
    await joined;
  }

  /** Every 10 s: the end of each partition minus where this consumer is (0 when it has caught up). */
  private watchLag(report: NonNullable<KafkaBusOptions['onLag']>): void {
    this.lagTimer = setInterval(() => {
      this.admin.fetchTopicOffsets(this.topic).then(
        (ends) => {
          for (const end of ends) {
            const high = BigInt(end.high);
            const lag = high - (this.positions.get(end.partition) ?? high);
            report(this.topic, end.partition, Number(lag > 0n ? lag : 0n));
          }
        },
        () => undefined, // the broker is away; /readyz says so
      );
    }, LAG_EVERY_MS);
    this.lagTimer.unref();
  }

  private async restartConsumer(previous: Consumer): Promise<void> {
    await previous.disconnect().catch(() => undefined);
    if (this.closed) return;
    try {
      await this.startConsumer(false);
    } catch (error) {
      this.options.log.error({ err: error }, 'Kafka consumer restart failed; trying again');
      setTimeout(() => void this.restartConsumer(this.consumer ?? previous), 2000).unref();
    }
  }

  private onRecord(value: Buffer | null): void {
    if (!value) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(value.toString('utf8')) as Envelope;
    } catch {
      this.options.log.warn('dropped a record that is not JSON from the events topic');
      return;
    }
    if (!envelope?.event || !this.dedupe.firstTime(envelope.id, envelope.event)) return;
    this.delivered++;
    for (const handler of this.handlers) {
      try {
        handler(envelope.event);
      } catch (error) {
        this.options.log.error({ err: error }, 'bus handler failed');
      }
    }
  }

  /** Sends the queue in order, one batch at a time; waits and tries again while the broker cannot be reached. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let delay = 100;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const now = Date.now();
        const before = this.pending.length;
        this.pending = this.pending.filter((p) => p.durable || now - p.at < DIRECT_EVENT_TTL_MS);
        if (this.pending.length < before) this.countDrop('stale after the broker was unreachable', before - this.pending.length);
        const batch = this.pending.slice(0, SEND_BATCH);
        if (batch.length === 0) break;
        try {
          await this.producer.send({ topic: this.topic, acks: -1, messages: batch.map((p) => p.record) });
          this.pending.splice(0, batch.length);
          delay = 100;
        } catch (error) {
          this.options.log.warn({ err: error, pending: this.pending.length }, 'Kafka send failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, 2000);
        }
      }
    } finally {
      this.pumping = false;
      for (const resolve of this.flushWaiters.splice(0)) resolve();
    }
  }

  private countDrop(reason: string, count = 1): void {
    this.dropped += count;
    this.options.log.warn({ count, reason, droppedTotal: this.dropped }, 'dropped events that could not reach Kafka');
  }
}

/** Runs `work` again while Kafka answers with a retriable error, for up to 15 s. */
async function retrying<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await work();
    } catch (error) {
      if (!(error as { retriable?: boolean }).retriable || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export function toRecord(envelope: Envelope): BusRecord {
  return { key: eventKey(envelope.event), value: JSON.stringify(envelope) };
}

function clientConfig(kafka: KafkaConfig, nodeId: string, log: Logger): KafkaJsConfig {
  return {
    clientId: `${kafka.clientId}-${nodeId}`,
    brokers: kafka.brokers,
    ssl: kafka.ssl,
    ...(kafka.sasl ? { sasl: kafka.sasl as KafkaJsConfig['sasl'] } : {}),
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    logLevel: logLevel.WARN,
    // kafkajs logs every failed reconnect as an error; during a broker restart that is expected, so warn.
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...fields } = entry;
      const line = { kafka: namespace, ...fields };
      if (level <= logLevel.WARN) log.warn(line, message);
      else log.debug(line, message);
    },
  };
}
