import { randomBytes } from 'node:crypto';
import { InProcessEventBus } from '../../src/platform/events/event-bus.js';
import { createTestDatabase, testServerEngine, type TestDatabase } from './databases.js';
import { RELAXED_LIMITS } from './helpers.js';
import type { TestKafka } from './kafka.js';
import { startKafkaCluster } from './kafka-cluster.js';
import { deletePrefix, MACHINE_REDIS_URL, uniquePrefix } from './redis.js';
import { startTestServer, type TestServer } from './test-server.js';

export interface TestCluster {
  nodes: TestServer[];
  prefix: string;
  database: TestDatabase;
  close(): Promise<void>;
}

/** The bus between the nodes: one in-process instance, or a real Kafka broker (started by the caller). */
export type ClusterBus = { kind: 'in-process' } | { kind: 'kafka'; broker: TestKafka };

/**
 * Several KKChat nodes in this process, the way a cluster runs them: one shared database (a fresh PostgreSQL
 * database unless KKCHAT_TEST_DATABASE names another server engine), one Redis (the machine's, under a prefix
 * of their own, or `redisUrl`), one signing secret, and one event bus instance standing in for the cluster's bus.
 * `prefixes: 'separate'` gives each node its own Redis prefix: nodes that share the database but whose
 * invalidations, sessions and presence cannot reach each other.
 */
export async function startCluster(
  count: number,
  options: { env?: Record<string, string>; redisUrl?: string; prefixes?: 'shared' | 'separate'; bus?: ClusterBus } = {},
): Promise<TestCluster> {
  if (options.bus?.kind === 'kafka') return startOnKafka(count, options.bus.broker, options);
  const engine = testServerEngine() === 'sqlite' ? 'postgres' : testServerEngine();
  const database = await createTestDatabase(engine);
  const bus = new InProcessEventBus();
  const redisUrl = options.redisUrl ?? MACHINE_REDIS_URL;
  const shared = uniquePrefix();
  const prefixes = Array.from({ length: count }, () => (options.prefixes === 'separate' ? uniquePrefix() : shared));
  const env = {
    ...RELAXED_LIMITS,
    KKCHAT_DATABASE_URL: database.url,
    KKCHAT_REDIS_URL: redisUrl,
    KKCHAT_JWT_SECRET: randomBytes(32).toString('hex'),
    ...options.env,
  };
  const nodes: TestServer[] = [];
  try {
    for (const prefix of prefixes) nodes.push(await startTestServer({ env: { ...env, KKCHAT_REDIS_PREFIX: prefix }, bus }));
  } catch (error) {
    for (const node of nodes) await node.close();
    await database.drop();
    throw error;
  }
  return {
    nodes,
    prefix: shared,
    database,
    async close() {
      for (const node of nodes) await node.close().catch(() => undefined);
      await database.drop();
      if (redisUrl === MACHINE_REDIS_URL) for (const prefix of new Set(prefixes)) await deletePrefix(prefix, redisUrl);
    },
  };
}

/** The same nodes on the Kafka bus (kafka-cluster.ts): database, secret and Redis shared as above. */
async function startOnKafka(
  count: number,
  broker: TestKafka,
  options: { env?: Record<string, string>; redisUrl?: string; prefixes?: 'shared' | 'separate' },
): Promise<TestCluster> {
  const kafka = await startKafkaCluster({ kafka: broker, ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}) });
  const prefix = kafka.env.KKCHAT_REDIS_PREFIX!;
  const separate: string[] = [];
  const nodes: TestServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const own = options.prefixes === 'separate' ? uniquePrefix() : prefix;
      if (own !== prefix) separate.push(own);
      nodes.push(await kafka.node(`n${i + 1}`, { ...options.env, KKCHAT_REDIS_PREFIX: own }));
    }
  } catch (error) {
    await kafka.close();
    throw error;
  }
  return {
    nodes,
    prefix,
    database: kafka.database,
    async close() {
      await kafka.close();
      for (const own of separate) await deletePrefix(own);
    },
  };
}
