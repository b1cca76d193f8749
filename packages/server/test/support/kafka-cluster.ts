import { randomBytes } from 'node:crypto';
import { KKChatClient } from '@kkchat/client';
import type { Message } from '@kkchat/protocol';
import WebSocket from 'ws';
import { createTestDatabase, testServerEngine, type TestDatabase } from './databases.js';
import { RELAXED_LIMITS } from './helpers.js';
import { startKafka, type TestKafka } from './kafka.js';
import { deletePrefix, MACHINE_REDIS_URL, uniquePrefix } from './redis.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { startTestServer, type TestServer } from './test-server.js';

/**
 * KKChat nodes in cluster mode for tests: one fresh PostgreSQL (or KKCHAT_TEST_DATABASE's engine) database, one Kafka broker of the test's own (topic
 * prefix of its own), Redis (the machine's under a key prefix of its own, or `redisUrl`: a redis-server of the
 * test's own), one signing secret. Nodes run in this process (`node`, built like production with buildApp) or as
 * child processes of the built server (`processNode`, for kill -9).
 */
export interface TestCluster {
  kafka: TestKafka;
  database: TestDatabase;
  /** The environment every node of this cluster shares. */
  env: Record<string, string>;
  node(name: string, env?: Record<string, string>): Promise<TestServer>;
  processNode(name: string, env?: Record<string, string>): Promise<ServerProcess>;
  close(): Promise<void>;
}

export async function startKafkaCluster(options: { kafka?: TestKafka; redisUrl?: string } = {}): Promise<TestCluster> {
  const kafka = options.kafka ?? (await startKafka());
  // PostgreSQL, or the server engine KKCHAT_TEST_DATABASE names (npm run test:mysql runs these on MariaDB).
  const database = await createTestDatabase(testServerEngine() === 'sqlite' ? 'postgres' : testServerEngine());
  const redisUrl = options.redisUrl ?? MACHINE_REDIS_URL;
  const redisPrefix = uniquePrefix();
  const env: Record<string, string> = {
    ...RELAXED_LIMITS,
    KKCHAT_DATABASE_URL: database.url,
    KKCHAT_DATABASE_POOL_SIZE: '5',
    KKCHAT_JWT_SECRET: randomBytes(32).toString('hex'),
    KKCHAT_KAFKA_BROKERS: kafka.brokers,
    KKCHAT_KAFKA_TOPIC_PREFIX: `t${randomBytes(4).toString('hex')}.`,
    KKCHAT_KAFKA_PARTITIONS: '4',
    KKCHAT_KAFKA_REPLICATION_FACTOR: '1',
    KKCHAT_OUTBOX_POLL_MS: '10',
    KKCHAT_REDIS_URL: redisUrl,
    KKCHAT_REDIS_PREFIX: redisPrefix,
  };
  const servers: TestServer[] = [];
  const processes: ServerProcess[] = [];
  return {
    kafka,
    database,
    env,
    async node(name, extra = {}) {
      const server = await startTestServer({ env: { ...env, KKCHAT_NODE_ID: name, ...extra } });
      servers.push(server);
      return server;
    },
    async processNode(name, extra = {}) {
      const proc = await startServerProcess({ env: { ...env, KKCHAT_NODE_ID: name, KKCHAT_LOG_LEVEL: 'warn', ...extra } });
      processes.push(proc);
      return proc;
    },
    async close() {
      for (const proc of processes) await proc.kill('SIGKILL').catch(() => undefined);
      for (const server of servers) await server.close().catch(() => undefined);
      await database.drop();
      if (!options.kafka) await kafka.stop();
      if (redisUrl === MACHINE_REDIS_URL) await deletePrefix(redisPrefix, redisUrl);
    },
  };
}

let counter = 0;

/** An SDK client (the one the web app uses) against `baseUrl`, reconnecting quickly. */
export function sdkClient(baseUrl: string): KKChatClient {
  return new KKChatClient({
    baseUrl,
    WebSocket: WebSocket as unknown as never,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ackTimeoutMs: 5000,
  });
}

export async function signUp(client: KKChatClient, prefix: string) {
  const username = `${prefix}${Date.now().toString(36)}${counter++}`;
  return client.auth.register({ username, password: `pw-${username}-secret` });
}

/**
 * What a client shows of its conversations, from the SDK's 'message' events (what the web app renders). Any
 * duplicate or seq out of order is recorded in `violations`: the guarantee is exactly once, in seq order.
 */
export function shown(client: KKChatClient, conversationIds: string[]): { messages: Map<string, Message[]>; violations: string[] } {
  const messages = new Map(conversationIds.map((id) => [id, [] as Message[]]));
  const violations: string[] = [];
  client.on('message', (message) => {
    const list = messages.get(message.conversationId);
    if (!list) return;
    const last = list.at(-1)?.seq ?? 0;
    if (message.seq !== last + 1) violations.push(`conversation ${message.conversationId}: seq ${message.seq} shown after ${last}`);
    else list.push(message);
  });
  return { messages, violations };
}

export async function until(condition: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
