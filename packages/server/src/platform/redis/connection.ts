import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import type { Logger } from 'pino';

export type RedisClient = ReturnType<typeof createClient>;

/** Every command fails after this long instead of waiting on a Redis that stopped answering. */
const COMMAND_TIMEOUT_MS = 2000;
/** While Redis is down, a PING every so often notices its return even when nothing else uses it. */
const PROBE_INTERVAL_MS = 500;

export interface RedisConnectionOptions {
  url: string;
  /** Starts every key and channel, so deployments (and tests) can share one server. */
  prefix: string;
  log: Logger;
  /** Reports up/down and failed commands (metrics). */
  onState?: (up: boolean) => void;
  onCommandError?: () => void;
}

/** A Lua script run by EVALSHA, loaded with EVAL the first time a server does not know it. */
export class RedisScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/**
 * The process's Redis connection: one client for commands (node-redis pipelines concurrent commands on it) and,
 * on demand, one for subscriptions. It tracks whether Redis answers: a failed command or a dropped socket marks
 * it down (logged once, not per request), the next successful command or a probe marks it up again (logged
 * once), and the adapters' recovery hooks run then. Commands fail fast while it is down (no offline queue), so
 * callers fall back at once instead of piling up.
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly prefix: string;
  private upValue = false;
  private closed = false;
  private probe: NodeJS.Timeout | null = null;
  private readonly recoveryHooks = new Set<() => Promise<void> | void>();
  private readonly lossHooks = new Set<() => void>();
  private readonly subscribers: RedisClient[] = [];

  private connectedOnce = false;

  private constructor(private readonly options: RedisConnectionOptions) {
    this.prefix = options.prefix;
    // At start an unreachable Redis is an error (a wrong URL must not pass for an outage); once connected,
    // the client reconnects for ever, quickly at first, at most every 2 s.
    this.client = createRedisClient(options.url, (retries) => (this.connectedOnce ? Math.min(50 * 2 ** retries, 2000) : retries < 2 ? 100 : false));
    this.client.on('error', (error: unknown) => {
      this.options.onCommandError?.();
      this.markDown(error);
    });
    this.client.on('ready', () => this.markUp());
  }

  /** Connects; a Redis that cannot be reached at start is an error naming the (redacted) URL. */
  static async open(options: RedisConnectionOptions): Promise<RedisConnection> {
    const connection = new RedisConnection(options);
    try {
      await connection.client.connect();
      await connection.client.ping();
      connection.connectedOnce = true;
    } catch (error) {
      await connection.close();
      throw new Error(`Redis at ${redactRedisUrl(options.url)} is unreachable: ${errorText(error)}`, { cause: error });
    }
    connection.markUp();
    return connection;
  }

  get up(): boolean {
    return this.upValue;
  }

  key(name: string): string {
    return this.prefix + name;
  }

  /** Runs a command; a failure marks Redis down and is rethrown for the caller's fallback. */
  async run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      const result = await withTimeout(command(this.client), COMMAND_TIMEOUT_MS);
      if (!this.upValue) this.markUp();
      return result;
    } catch (error) {
      this.options.onCommandError?.();
      if (isConnectionError(error)) this.markDown(error);
      throw error;
    }
  }

  /** Runs a Lua script with its keys and arguments (strings). */
  eval(script: RedisScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    return this.run(async (client) => {
      try {
        return await client.evalSha(script.sha, options);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return client.eval(script.source, options);
      }
    });
  }

  /** A second connection for SUBSCRIBE (a subscribed connection cannot run other commands). */
  async subscriber(): Promise<RedisClient> {
    const client = this.client.duplicate();
    client.on('error', () => undefined); // the main connection reports the state; this one only reconnects
    this.subscribers.push(client);
    await client.connect();
    return client;
  }

  /** Runs `hook` each time Redis answers again after an outage (presence re-registers, caches flush). */
  onRecovery(hook: () => Promise<void> | void): void {
    this.recoveryHooks.add(hook);
  }

  /** Runs `hook` when Redis stops answering. */
  onLoss(hook: () => void): void {
    this.lossHooks.add(hook);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopProbe();
    for (const client of [...this.subscribers, this.client]) {
      try {
        if (client.isOpen) await client.close();
        else client.destroy();
      } catch {
        // already closed
      }
    }
  }

  private markDown(error: unknown): void {
    if (this.closed || !this.upValue) return;
    this.upValue = false;
    this.options.log.error({ err: error }, `redis unavailable: ${errorText(error)}; degraded until it answers again`);
    this.options.onState?.(false);
    for (const hook of this.lossHooks) hook();
    this.probe = setInterval(() => {
      withTimeout(this.client.ping(), COMMAND_TIMEOUT_MS).then(() => this.markUp(), () => undefined);
    }, PROBE_INTERVAL_MS);
    this.probe.unref();
  }

  private markUp(): void {
    if (this.closed || this.upValue) return;
    const wasDown = this.probe !== null;
    this.upValue = true;
    this.stopProbe();
    this.options.onState?.(true);
    if (!wasDown) return;
    this.options.log.info('redis recovered');
    for (const hook of this.recoveryHooks) {
      Promise.resolve()
        .then(hook)
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'redis recovery step failed'));
    }
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
  }
}

function createRedisClient(url: string, reconnectStrategy: (retries: number) => number | false) {
  return createClient({
    url,
    disableOfflineQueue: true,
    // node-redis times a command out only until it is written; withTimeout covers the wait for the reply.
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
    socket: { connectTimeout: 5000, reconnectStrategy },
  });
}

/** A frozen Redis (or a lost network) never answers: give up on the reply after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis command timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Command errors that say nothing about the connection (a script error, a wrong type) leave it up. */
function isConnectionError(error: unknown): boolean {
  const message = String((error as Error)?.message ?? error);
  return !/^(ERR|WRONGTYPE|NOSCRIPT|BUSY)\b/.test(message);
}

function errorText(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return errorText(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}

/** The URL without its password, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):([^@]+)@/, '//$1:***@');
}
