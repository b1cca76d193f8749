import { randomBytes } from 'node:crypto';
import type { Message } from '@kkchat/protocol';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaConfig } from '../../src/config.js';
import { InProcessEventBus, type BusEvent, type EventBus } from '../../src/platform/events/event-bus.js';
import { KafkaEventBus, toRecord } from '../../src/platform/events/kafka-event-bus.js';
import { eventually } from '../support/helpers.js';
import { startKafka, type TestKafka } from '../support/kafka.js';

/**
 * One contract for every EventBus adapter (style: one suite, run against each backend): the in-process bus of
 * the embedded mode and the Kafka bus of cluster mode, against a real Apache Kafka broker started for this file.
 * A "node" is one bus as a process would hold it; the in-process bus has one node, used twice.
 */
const silent = pino({ level: 'silent' });
let kafka: TestKafka;
const opened: EventBus[] = [];

function kafkaConfig(topicPrefix: string): KafkaConfig {
  return { brokers: [kafka.brokers], topicPrefix, clientId: 'test', partitions: 4, replicationFactor: 1, ssl: false, sasl: null };
}

async function kafkaNode(topicPrefix: string, name: string, consume = true): Promise<KafkaEventBus> {
  const bus = await KafkaEventBus.start({ kafka: kafkaConfig(topicPrefix), nodeId: name, instanceId: randomBytes(4).toString('hex'), consume, log: silent });
  opened.push(bus);
  return bus;
}

const backends: { name: string; nodes: (count: number) => Promise<EventBus[]> }[] = [
  {
    name: 'in-process',
    nodes: async (count) => {
      const bus = new InProcessEventBus();
      opened.push(bus);
      return Array.from({ length: count }, () => bus);
    },
  },
  {
    name: 'kafka',
    nodes: async (count) => {
      const prefix = `contract${randomBytes(3).toString('hex')}.`;
      return Promise.all(Array.from({ length: count }, (_, i) => kafkaNode(prefix, `node${i}`)));
    },
  },
];

beforeAll(async () => {
  kafka = await startKafka();
}, 180_000);

afterAll(async () => {
  for (const bus of opened) await bus.close();
  await kafka?.stop();
}, 60_000);

function message(conversationId: string, seq: number): Message {
  return { id: `m-${conversationId}-${seq}`, conversationId, seq, senderId: 'u1', clientMsgId: `c${seq}`, createdAt: 1, kind: 'text', text: `t${seq}` };
}

function collect(bus: EventBus): BusEvent[] {
  const got: BusEvent[] = [];
  bus.subscribe((event) => got.push(event));
  return got;
}

describe.each(backends)('EventBus contract: $name', (backend) => {
  it('delivers each event once to every subscriber on every node', async () => {
    const [a, b] = await backend.nodes(2);
    const onA = collect(a!);
    const onB = collect(b!);
    const event: BusEvent = { kind: 'deliver', userIds: ['u1', 'u2'], frame: { type: 'typing', conversationId: 'c1', userId: 'u1' } };
    await a!.publish(event);
    await eventually(() => onA.length === 1 && onB.length === 1);
    expect(onA).toEqual([event]);
    expect(onB).toEqual([event]);
  });

  it('keeps the publish order of the events of one conversation', async () => {
    const [a, b] = await backend.nodes(2);
    const onB = collect(b!);
    for (let seq = 1; seq <= 200; seq++) {
      for (const conversation of ['k1', 'k2', 'k3']) {
        await a!.publish({ kind: 'deliver', userIds: ['u1'], frame: { type: 'message', message: message(conversation, seq) } });
      }
    }
    await eventually(() => onB.length === 600, 20_000);
    for (const conversation of ['k1', 'k2', 'k3']) {
      const seqs = onB.flatMap((e) => (e.kind === 'deliver' && e.frame.type === 'message' && e.frame.message.conversationId === conversation ? [e.frame.message.seq] : []));
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    }
  });

  it('carries every kind of event intact', async () => {
    const [a, b] = await backend.nodes(2);
    const onB = collect(b!);
    const events: BusEvent[] = [
      { kind: 'deliver', userIds: ['u1'], frame: { type: 'message', message: message('k9', 1) }, exceptConnectionId: 'conn-1' },
      { kind: 'deliver-connections', connectionIds: ['conn-2'], frame: { type: 'call.signal', callId: 'call-1', signal: { kind: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } } },
      { kind: 'close-sessions', sessionIds: ['s1', 's2'], code: 4003, reason: 'session revoked' },
      { kind: 'close-user', userId: 'u3', code: 4003, reason: 'disabled', exceptSessionId: 's4' },
      { kind: 'call-command', to: 'instance-1', callId: 'call-1', command: { action: 'hangup', actor: { userId: 'u1', sessionId: 's1', connectionId: 'conn-1' }, rid: 'r1' } },
    ];
    for (const event of events) await a!.publish(event);
    await eventually(() => onB.length === events.length);
    expect(new Set(onB.map((e) => JSON.stringify(e)))).toEqual(new Set(events.map((e) => JSON.stringify(e))));
  });

  it('stops calling a handler once it unsubscribed', async () => {
    const [a, b] = await backend.nodes(2);
    const kept = collect(b!);
    const dropped: BusEvent[] = [];
    const unsubscribe = b!.subscribe((event) => dropped.push(event));
    unsubscribe();
    await a!.publish({ kind: 'close-user', userId: 'u5', code: 4003, reason: 'x' });
    await eventually(() => kept.length === 1);
    expect(dropped).toEqual([]);
  });
});

describe('Kafka bus', () => {
  it('delivers a record relayed twice once, and a message seq at most once per conversation (BR-39)', async () => {
    const prefix = `dedupe${randomBytes(3).toString('hex')}.`;
    const [relay, gateway] = [await kafkaNode(prefix, 'relay', false), await kafkaNode(prefix, 'gw')];
    const got = collect(gateway);
    const signal = toRecord({ id: 'event-1', event: { kind: 'close-user', userId: 'u1', code: 4003, reason: 'x' } });
    const first = toRecord({ id: 'event-2', event: { kind: 'deliver', userIds: ['u1'], frame: { type: 'message', message: message('k1', 1) } } });
    // The same message under another envelope id (staged twice) still counts once: dedupe is by (conversation, seq).
    const again = toRecord({ id: 'event-3', event: { kind: 'deliver', userIds: ['u1'], frame: { type: 'message', message: message('k1', 1) } } });
    const next = toRecord({ id: 'event-4', event: { kind: 'deliver', userIds: ['u1'], frame: { type: 'message', message: message('k1', 2) } } });
    await relay.publishRecords([signal, first, signal, again, first]);
    await relay.publishRecords([next, first]);
    await eventually(() => got.length >= 3);
    await relay.publishRecords([toRecord({ id: 'event-5', event: { kind: 'close-user', userId: 'end', code: 1, reason: '' } })]);
    await eventually(() => got.some((e) => e.kind === 'close-user' && e.userId === 'end'));
    // Different keys may interleave in any order; within each, every event once.
    expect(got.flatMap((e) => (e.kind === 'deliver' && e.frame.type === 'message' ? [e.frame.message.seq] : []))).toEqual([1, 2]);
    expect(got.filter((e) => e.kind === 'close-user').map((e) => (e.kind === 'close-user' ? e.userId : ''))).toEqual(expect.arrayContaining(['u1', 'end']));
    expect(got).toHaveLength(4);
  });

  it('misses nothing published once a node has started', async () => {
    const prefix = `start${randomBytes(3).toString('hex')}.`;
    const publisher = await kafkaNode(prefix, 'pub', false);
    await publisher.publish({ kind: 'close-user', userId: 'before', code: 1, reason: '' });
    await publisher.flush();
    const late = await kafkaNode(prefix, 'late');
    const got = collect(late);
    await publisher.publish({ kind: 'close-user', userId: 'after', code: 1, reason: '' });
    await eventually(() => got.length === 1);
    expect(got).toEqual([{ kind: 'close-user', userId: 'after', code: 1, reason: '' }]);
  });

  it('keeps events published while the broker restarts and delivers each once, in order', async () => {
    const prefix = `restart${randomBytes(3).toString('hex')}.`;
    const [a, b] = [await kafkaNode(prefix, 'a'), await kafkaNode(prefix, 'b')];
    const got = collect(b);
    let seq = 0;
    const publishSome = async (count: number) => {
      for (let i = 0; i < count; i++) {
        seq++;
        await a.publish({ kind: 'deliver', userIds: ['u1'], frame: { type: 'message', message: message('k1', seq) } });
      }
    };
    await publishSome(50);
    await eventually(() => got.length === 50);
    await kafka.kill();
    await publishSome(50); // queued while the broker is away
    await kafka.start();
    await publishSome(50);
    await eventually(() => got.length === 150, 60_000);
    const seqs = got.map((e) => (e.kind === 'deliver' && e.frame.type === 'message' ? e.frame.message.seq : -1));
    expect(seqs).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  }, 120_000);
});
