import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createClient } from 'redis';
import { RedisConnection } from '../../src/platform/redis/connection.js';
import { freePort } from './kafka.js';

/**
 * Redis for tests. Ordinary tests use the machine's Redis (KKCHAT_TEST_REDIS_URL, default
 * redis://127.0.0.1:6379) under a prefix of their own, deleted afterwards; a machine Redis that is down is an
 * error naming the command that starts it (design notes §5). Tests that stop and restart Redis start their own
 * redis-server on a free port (startRedisServer) and stop it by PID: never the machine's.
 */
export const MACHINE_REDIS_URL = process.env.KKCHAT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const START_HINT =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

export function uniquePrefix(): string {
  return `kkchat-test:${randomBytes(5).toString('hex')}:`;
}

/** Fails with the start command when the machine's Redis does not answer. */
export async function checkMachineRedis(): Promise<void> {
  const client = createClient({ url: MACHINE_REDIS_URL, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis is not reachable at ${MACHINE_REDIS_URL} (${String(error)}). Start it with \`${START_HINT}\` (bash scripts/test.sh does).`);
  } finally {
    if (client.isOpen) await client.close();
  }
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(prefix: string, url = MACHINE_REDIS_URL): Promise<void> {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    await client.close();
  }
}

export function openConnection(prefix: string, url = MACHINE_REDIS_URL): Promise<RedisConnection> {
  return RedisConnection.open({ url, prefix, log: pino({ level: 'silent' }) });
}

export interface OwnRedis {
  url: string;
  port: number;
  /** PID of the running redis-server (null while stopped). */
  readonly pid: number | null;
  /** Stops it by PID (SIGKILL: an outage, not a clean shutdown); its data is gone (no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, commands time out. */
  pause(): void;
  resume(): void;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/** A redis-server of the test's own on a free loopback port, without persistence. */
export async function startRedisServer(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kkchat-redis-'));
  let child: ChildProcess | null = null;

  const start = async () => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    });
  };

  const stop = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.pid === undefined) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(proc.pid, 'SIGCONT');
    process.kill(proc.pid, 'SIGKILL');
    await exited;
    child = null;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      const proc = child as ChildProcess | null;
      return proc?.pid ?? null;
    },
    stop,
    start,
    pause: () => {
      const proc = child as ChildProcess | null;
      if (proc?.pid) process.kill(proc.pid, 'SIGSTOP');
    },
    resume: () => {
      const proc = child as ChildProcess | null;
      if (proc?.pid) process.kill(proc.pid, 'SIGCONT');
    },
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TcpProxy {
  url: string;
  /** Drops every connection and refuses new ones: the network between the nodes and Redis is cut. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of a Redis, to cut the nodes off from it while Redis keeps its data. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const { createConnection, createServer: createTcpServer } = await import('node:net');
  const port = await freePort();
  const sockets = new Set<import('node:net').Socket>();
  let server: import('node:net').Server | null = null;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createTcpServer((client) => {
        const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const cut = async () => {
    const closing = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();
  return { url: `redis://127.0.0.1:${port}`, cut, restore: listen, close: cut };
}
