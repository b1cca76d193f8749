import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { trustPredicate } from './http/client-address.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The built web app, next to the server package in the repository. */
const DEFAULT_WEB_DIR = resolve(here, '../../web/dist');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** Every environment variable KKChat reads, with its default. `.env.example` documents the same list. */
const EnvSchema = z.object({
  KKCHAT_HOST: z.string().min(1).default('0.0.0.0'),
  KKCHAT_PORT: int(0, 65535).default(8080),
  KKCHAT_DATA_DIR: z.string().min(1).default('./data'),
  KKCHAT_DATABASE_URL: z
    .string()
    .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/|mysql:\/\/|mariadb:\/\/)/, 'sqlite:<path>, postgres://… or mysql://…')
    .optional(),
  KKCHAT_DATABASE_POOL_SIZE: int(1, 1000).default(10),
  KKCHAT_SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
  KKCHAT_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  KKCHAT_ACCESS_TOKEN_TTL_SEC: int(30, 24 * 3600).default(900),
  KKCHAT_REFRESH_TOKEN_TTL_SEC: int(60, 365 * 24 * 3600).default(30 * 24 * 3600),
  KKCHAT_ALLOWED_ORIGINS: z.string().optional(),
  KKCHAT_WS_AUTH_TIMEOUT_MS: int(100, 60_000).default(5000),
  KKCHAT_HEARTBEAT_MS: int(100, 120_000).default(25_000),
  KKCHAT_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KKCHAT_WEB_DIR: z.string().optional(),
  KKCHAT_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/, 'true, false, a hop count, or addresses/CIDRs')
    .default('false'),
  KKCHAT_API_MAX_PER_MIN: int(1, 1_000_000).default(600),
  KKCHAT_WS_MAX_PER_IP: int(1, 1_000_000).default(500),
  KKCHAT_LOGIN_MAX_PER_ACCOUNT: int(1, 10_000).default(10),
  KKCHAT_LOGIN_MAX_PER_IP: int(1, 100_000).default(50),
  KKCHAT_REGISTER_MAX_PER_IP: int(1, 100_000).default(20),
  KKCHAT_SEND_MAX_PER_10S: int(1, 1_000_000).default(100),
  KKCHAT_GROUP_MEMBER_LIMIT: int(2, 1_000_000).default(2000),
  KKCHAT_CALL_RING_TIMEOUT_MS: int(100, 600_000).default(45_000),
  KKCHAT_CALL_DISCONNECT_GRACE_MS: int(0, 600_000).default(15_000),
  KKCHAT_STUN_URLS: z.string().default(''),
  KKCHAT_TURN_URLS: z.string().default(''),
  KKCHAT_TURN_SECRET: z.string().optional(),
  KKCHAT_TURN_TTL_SEC: int(60, 7 * 24 * 3600).default(3600),
  KKCHAT_BLOB_STORE: z.enum(['local', 's3']).default('local'),
  KKCHAT_S3_ENDPOINT: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
  KKCHAT_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 of a-z 0-9 . -)').optional(),
  KKCHAT_S3_REGION: z.string().min(1).default('us-east-1'),
  KKCHAT_S3_ACCESS_KEY_ID: z.string().default(''),
  KKCHAT_S3_SECRET_ACCESS_KEY: z.string().default(''),
  KKCHAT_S3_FORCE_PATH_STYLE: bool.default(false),
  KKCHAT_UPLOAD_MAX_BYTES: int(1, 5 * GIB).default(100 * MIB),
  KKCHAT_UPLOAD_PART_BYTES: int(5 * MIB, 512 * MIB).default(8 * MIB),
  KKCHAT_UPLOAD_MAX_PER_HOUR: int(1, 1_000_000).default(200),
  KKCHAT_UPLOAD_EXPIRY_SEC: int(60, 30 * 24 * 3600).default(24 * 3600),
  KKCHAT_UNATTACHED_FILE_TTL_SEC: int(60, 30 * 24 * 3600).default(24 * 3600),
  KKCHAT_FILE_CLEANUP_INTERVAL_SEC: int(1, 24 * 3600).default(600),
  KKCHAT_FILE_LINK_TTL_SEC: int(30, 24 * 3600).default(300),
  // Cluster mode (issue 5): roles, node identity, Kafka. See docs/architecture.md "Cluster".
  KKCHAT_ROLES: z
    .string()
    .regex(/^\s*(all|gateway|api|worker)\s*(,\s*(all|gateway|api|worker)\s*)*$/, 'all, or a comma-separated list of gateway, api, worker')
    .default('all'),
  KKCHAT_NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1 to 64 letters, digits, ".", "_" or "-"').optional(),
  KKCHAT_KAFKA_BROKERS: z
    .string()
    .regex(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, 'comma-separated host:port list, e.g. 127.0.0.1:19092')
    .optional(),
  KKCHAT_KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]{0,200}$/, 'letters, digits, ".", "_" or "-"').default('kkchat.'),
  KKCHAT_KAFKA_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, '1 to 100 letters, digits, ".", "_" or "-"').default('kkchat'),
  KKCHAT_KAFKA_PARTITIONS: int(1, 10_000).default(12),
  KKCHAT_KAFKA_REPLICATION_FACTOR: int(-1, 32).refine((n) => n !== 0, 'a replica count, or -1 for the broker default').default(-1),
  KKCHAT_KAFKA_SSL: bool.default(false),
  KKCHAT_KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KKCHAT_KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KKCHAT_KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KKCHAT_OUTBOX_POLL_MS: int(5, 10_000).default(25),
  KKCHAT_REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, 'redis://[user:password@]host:port[/db] or rediss://…').optional(),
  KKCHAT_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, '1-64 letters, digits, ":", "_", "." or "-"').default('kkchat:'),
  KKCHAT_PRESENCE_TTL_MS: int(300, 600_000).default(30_000),
  KKCHAT_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  KKCHAT_SHUTDOWN_DRAIN_MS: int(0, 600_000).default(2000),
  KKCHAT_SHUTDOWN_TIMEOUT_MS: int(1000, 3_600_000).default(15_000),
  KKCHAT_ADMIN_USERNAMES: z
    .string()
    .regex(/^\s*([A-Za-z0-9_.-]+\s*(,\s*[A-Za-z0-9_.-]+\s*)*)?$/, 'comma-separated usernames')
    .default(''),
}).superRefine((e, ctx) => {
  if (e.KKCHAT_BLOB_STORE === 's3' && !e.KKCHAT_S3_BUCKET) {
    ctx.addIssue({ code: 'custom', path: ['KKCHAT_S3_BUCKET'], message: 'required when KKCHAT_BLOB_STORE=s3' });
  }
  if (Boolean(e.KKCHAT_S3_ACCESS_KEY_ID) !== Boolean(e.KKCHAT_S3_SECRET_ACCESS_KEY)) {
    ctx.addIssue({ code: 'custom', path: ['KKCHAT_S3_SECRET_ACCESS_KEY'], message: 'set both KKCHAT_S3_ACCESS_KEY_ID and KKCHAT_S3_SECRET_ACCESS_KEY, or neither' });
  }
  const trust = parseTrustProxy(e.KKCHAT_TRUST_PROXY);
  if (typeof trust === 'string') {
    try {
      trustPredicate(trust);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['KKCHAT_TRUST_PROXY'], message: (error as Error).message });
    }
  }
  // S3 allows at most 10,000 parts per upload.
  if (e.KKCHAT_UPLOAD_MAX_BYTES > e.KKCHAT_UPLOAD_PART_BYTES * 10_000) {
    ctx.addIssue({ code: 'custom', path: ['KKCHAT_UPLOAD_MAX_BYTES'], message: 'at most 10,000 x KKCHAT_UPLOAD_PART_BYTES' });
  }
});

/** What a node does; `all` (the default) is every role in one process. */
export type Role = 'gateway' | 'api' | 'worker';
export const ROLES: readonly Role[] = ['gateway', 'api', 'worker'];

export interface KafkaConfig {
  brokers: string[];
  /** Prefix of every topic KKChat creates (`<prefix>events`). */
  topicPrefix: string;
  clientId: string;
  /** Partitions of the events topic when KKChat creates it. */
  partitions: number;
  /** Replicas of the events topic when KKChat creates it; -1 takes the broker's default. */
  replicationFactor: number;
  ssl: boolean;
  sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string;
  /** Pooled connections per process (PostgreSQL, MySQL). */
  databasePoolSize: number;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  jwtSecret: string;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  /** Origins allowed to open the WebSocket and call the API with credentials. */
  allowedOrigins: string[];
  /** True when KKCHAT_ALLOWED_ORIGINS was not set: the server's own origins, fixed once the port is bound. */
  allowedOriginsDefault: boolean;
  wsAuthTimeoutMs: number;
  heartbeatMs: number;
  logLevel: string;
  /** Directory of the built web app; null when it is absent (API-only). */
  webDir: string | null;
  /** Fastify's trustProxy: false, true (every hop), a hop count, or trusted addresses. */
  trustProxy: boolean | number | string;
  /** Open WebSockets allowed from one address (authenticated or not). */
  wsMaxPerIp: number;
  calls: {
    /** An unanswered call becomes a missed call after this long. */
    ringTimeoutMs: number;
    /** A device in a call that loses its connection may come back within this long before the call ends. */
    disconnectGraceMs: number;
    stunUrls: string[];
    turnUrls: string[];
    /** Shared secret of the TURN server (coturn `static-auth-secret`); TURN is offered only with one. */
    turnSecret: string | null;
    turnTtlSec: number;
  };
  groups: {
    /** Largest group allowed; new groups start with this limit (issue 3: 2,000 by default). */
    memberLimit: number;
  };
  files: {
    /** Where file bytes live: the local disk under the data directory, or an S3-compatible store. */
    store: 'local' | 's3';
    s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: boolean };
    /** Largest file accepted. */
    maxBytes: number;
    /** Size of every upload part but the last (S3 needs at least 5 MiB). */
    partBytes: number;
    /** An upload not completed within this long is removed with its parts. */
    uploadExpiryMs: number;
    /** A file nothing refers to (never attached, replaced avatar) is removed this long after it became so. */
    unattachedTtlMs: number;
    cleanupIntervalMs: number;
    /** Lifetime of signed download links. */
    linkTtlMs: number;
    /** Unfinished uploads one user may hold at once. */
    maxPendingPerUser: number;
  };
  /** Bearer token that may read /metrics from anywhere; without it only direct loopback clients may. */
  metricsToken: string | null;
  shutdown: {
    /** Sockets are closed over this long (in batches) when the node drains. */
    drainMs: number;
    /** The process exits anyway after this long. */
    timeoutMs: number;
  };
  /** The roles this process runs (all three by default). */
  roles: Set<Role>;
  /** This node's name in logs, consumer groups and outbox leases; unique per running process. */
  nodeId: string;
  /** Kafka between the nodes; null in the embedded mode (in-process bus). */
  kafka: KafkaConfig | null;
  /** How often an outbox relay looks for new events when idle (cluster mode). */
  outboxPollMs: number;
  redis: {
    /** Null: embedded mode (presence, limits, caches in this process). */
    url: string | null;
    /** Starts every key and channel. */
    prefix: string;
    /** A node's heartbeat lifetime; a dead node's users are offline within about 4/3 of it. */
    presenceTtlMs: number;
  };
  /** KKCHAT_ADMIN_USERNAMES: made administrators while the system has none (the first admin). */
  adminUsernames: string[];
  limits: {
    loginPerAccount: { limit: number; windowMs: number };
    loginPerIp: { limit: number; windowMs: number };
    registerPerIp: { limit: number; windowMs: number };
    sendPerUser: { limit: number; windowMs: number };
    friendRequestPerUser: { limit: number; windowMs: number };
    /** Every authenticated REST request counts here, shared by all of a user's devices. */
    apiPerUser: { limit: number; windowMs: number };
    typingPerConnection: { limit: number; windowMs: number };
    framesPerConnection: { limit: number; windowMs: number };
    /** New uploads per user (all devices together). */
    uploadPerUser: { limit: number; windowMs: number };
  };
}

export class ConfigError extends Error {}

/**
 * Reads the configuration once at start. Every invalid variable is named in one message (the process then
 * exits); nothing is read from the environment anywhere else.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  checkClusterEnv(e);
  const dataDir = resolve(e.KKCHAT_DATA_DIR);
  const port = overrides.port ?? e.KKCHAT_PORT;
  const webDir = e.KKCHAT_WEB_DIR ? resolve(e.KKCHAT_WEB_DIR) : DEFAULT_WEB_DIR;
  const config: Config = {
    host: e.KKCHAT_HOST,
    port,
    dataDir,
    databaseUrl: e.KKCHAT_DATABASE_URL ?? `sqlite:${join(dataDir, 'kkchat.db')}`,
    databasePoolSize: e.KKCHAT_DATABASE_POOL_SIZE,
    sqliteSynchronous: e.KKCHAT_SQLITE_SYNCHRONOUS,
    jwtSecret: e.KKCHAT_JWT_SECRET ?? '',
    accessTokenTtlMs: e.KKCHAT_ACCESS_TOKEN_TTL_SEC * 1000,
    refreshTokenTtlMs: e.KKCHAT_REFRESH_TOKEN_TTL_SEC * 1000,
    allowedOrigins: e.KKCHAT_ALLOWED_ORIGINS
      ? e.KKCHAT_ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)
      : ownOrigins(port),
    allowedOriginsDefault: !e.KKCHAT_ALLOWED_ORIGINS,
    wsAuthTimeoutMs: e.KKCHAT_WS_AUTH_TIMEOUT_MS,
    heartbeatMs: e.KKCHAT_HEARTBEAT_MS,
    logLevel: e.KKCHAT_LOG_LEVEL,
    webDir: existsSync(join(webDir, 'index.html')) ? webDir : null,
    trustProxy: parseTrustProxy(e.KKCHAT_TRUST_PROXY),
    wsMaxPerIp: e.KKCHAT_WS_MAX_PER_IP,
    calls: {
      ringTimeoutMs: e.KKCHAT_CALL_RING_TIMEOUT_MS,
      disconnectGraceMs: e.KKCHAT_CALL_DISCONNECT_GRACE_MS,
      stunUrls: splitList(e.KKCHAT_STUN_URLS),
      turnUrls: splitList(e.KKCHAT_TURN_URLS),
      turnSecret: e.KKCHAT_TURN_SECRET || null,
      turnTtlSec: e.KKCHAT_TURN_TTL_SEC,
    },
    groups: { memberLimit: e.KKCHAT_GROUP_MEMBER_LIMIT },
    files: {
      store: e.KKCHAT_BLOB_STORE,
      s3: {
        endpoint: e.KKCHAT_S3_ENDPOINT,
        bucket: e.KKCHAT_S3_BUCKET ?? '',
        region: e.KKCHAT_S3_REGION,
        accessKeyId: e.KKCHAT_S3_ACCESS_KEY_ID,
        secretAccessKey: e.KKCHAT_S3_SECRET_ACCESS_KEY,
        forcePathStyle: e.KKCHAT_S3_FORCE_PATH_STYLE,
      },
      maxBytes: e.KKCHAT_UPLOAD_MAX_BYTES,
      partBytes: e.KKCHAT_UPLOAD_PART_BYTES,
      uploadExpiryMs: e.KKCHAT_UPLOAD_EXPIRY_SEC * 1000,
      unattachedTtlMs: e.KKCHAT_UNATTACHED_FILE_TTL_SEC * 1000,
      cleanupIntervalMs: e.KKCHAT_FILE_CLEANUP_INTERVAL_SEC * 1000,
      linkTtlMs: e.KKCHAT_FILE_LINK_TTL_SEC * 1000,
      maxPendingPerUser: 20,
    },
    metricsToken: e.KKCHAT_METRICS_TOKEN ?? null,
    shutdown: { drainMs: e.KKCHAT_SHUTDOWN_DRAIN_MS, timeoutMs: e.KKCHAT_SHUTDOWN_TIMEOUT_MS },
    roles: parseRoles(e.KKCHAT_ROLES),
    nodeId: e.KKCHAT_NODE_ID ?? defaultNodeId(),
    kafka: e.KKCHAT_KAFKA_BROKERS ? kafkaConfig(e) : null,
    outboxPollMs: e.KKCHAT_OUTBOX_POLL_MS,
    redis: { url: e.KKCHAT_REDIS_URL ?? null, prefix: e.KKCHAT_REDIS_PREFIX, presenceTtlMs: e.KKCHAT_PRESENCE_TTL_MS },
    adminUsernames: splitList(e.KKCHAT_ADMIN_USERNAMES),
    limits: {
      loginPerAccount: { limit: e.KKCHAT_LOGIN_MAX_PER_ACCOUNT, windowMs: 15 * 60_000 },
      loginPerIp: { limit: e.KKCHAT_LOGIN_MAX_PER_IP, windowMs: 5 * 60_000 },
      registerPerIp: { limit: e.KKCHAT_REGISTER_MAX_PER_IP, windowMs: 10 * 60_000 },
      sendPerUser: { limit: e.KKCHAT_SEND_MAX_PER_10S, windowMs: 10_000 },
      friendRequestPerUser: { limit: 30, windowMs: 60_000 },
      apiPerUser: { limit: e.KKCHAT_API_MAX_PER_MIN, windowMs: 60_000 },
      typingPerConnection: { limit: 10, windowMs: 10_000 },
      framesPerConnection: { limit: 400, windowMs: 10_000 },
      uploadPerUser: { limit: e.KKCHAT_UPLOAD_MAX_PER_HOUR, windowMs: 3600_000 },
    },
    ...overrides,
  };
  if (!config.jwtSecret) config.jwtSecret = loadOrCreateSecret(config.dataDir);
  return config;
}

type Env = z.infer<typeof EnvSchema>;

/** Rules across variables, each failure naming the variable to fix. */
function checkClusterEnv(e: Env): void {
  const problems: string[] = [];
  const roles = parseRoles(e.KKCHAT_ROLES);
  // A node without every role relies on the others for part of the work, which only Kafka connects.
  if (roles.size < ROLES.length && !e.KKCHAT_KAFKA_BROKERS) {
    problems.push('  KKCHAT_ROLES: a node with only some roles needs the others through Kafka; set KKCHAT_KAFKA_BROKERS');
  }
  if (e.KKCHAT_KAFKA_SASL_MECHANISM && !e.KKCHAT_KAFKA_SASL_USERNAME) problems.push('  KKCHAT_KAFKA_SASL_USERNAME: required with KKCHAT_KAFKA_SASL_MECHANISM');
  if (e.KKCHAT_KAFKA_SASL_MECHANISM && !e.KKCHAT_KAFKA_SASL_PASSWORD) problems.push('  KKCHAT_KAFKA_SASL_PASSWORD: required with KKCHAT_KAFKA_SASL_MECHANISM');
  if (!e.KKCHAT_KAFKA_SASL_MECHANISM && (e.KKCHAT_KAFKA_SASL_USERNAME || e.KKCHAT_KAFKA_SASL_PASSWORD)) {
    problems.push('  KKCHAT_KAFKA_SASL_MECHANISM: set it (plain, scram-sha-256 or scram-sha-512) to use the SASL username and password');
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
}

function parseRoles(value: string): Set<Role> {
  const names = value.split(',').map((r) => r.trim());
  return new Set(names.includes('all') ? ROLES : (names as Role[]));
}

/** Host name and process id: unique among the processes of one machine, readable in logs. */
function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40) || 'node';
  return `${host}-${process.pid}`;
}

function kafkaConfig(e: Env): KafkaConfig {
  return {
    brokers: splitList(e.KKCHAT_KAFKA_BROKERS ?? ''),
    topicPrefix: e.KKCHAT_KAFKA_TOPIC_PREFIX,
    clientId: e.KKCHAT_KAFKA_CLIENT_ID,
    partitions: e.KKCHAT_KAFKA_PARTITIONS,
    replicationFactor: e.KKCHAT_KAFKA_REPLICATION_FACTOR,
    ssl: e.KKCHAT_KAFKA_SSL,
    sasl: e.KKCHAT_KAFKA_SASL_MECHANISM
      ? { mechanism: e.KKCHAT_KAFKA_SASL_MECHANISM, username: e.KKCHAT_KAFKA_SASL_USERNAME!, password: e.KKCHAT_KAFKA_SASL_PASSWORD! }
      : null,
  };
}

function splitList(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** The origins a browser uses for a server on this machine's port. */
export function ownOrigins(port: number): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`];
}

/** The embedded default keeps a generated signing secret in the data directory (mode 0600). */
function loadOrCreateSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}
