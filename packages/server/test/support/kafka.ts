import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(here, '../../../../scripts/kafka.sh');

export interface TestKafka {
  /** KKCHAT_KAFKA_BROKERS for this broker. */
  brokers: string;
  readonly pid: number;
  /** Stops the broker by its PID (SIGTERM, then SIGKILL after 30 s) and starts it again on the same data. */
  restart(): Promise<void>;
  /** Stops the broker by its PID. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again after kill(). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** A port the OS says is free now (bound to 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * A single-broker Kafka (KRaft) of this test's own, from `scripts/kafka.sh` on free loopback ports with a
 * temporary directory; the jars come from the project's cache (fetched on first use).
 */
export async function startKafka(): Promise<TestKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'kkchat-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const args = ['--dir', join(dir, 'broker'), '--port', String(port), '--controller-port', String(controllerPort)];
  let pid = -1;
  const launch = async () => {
    const { stdout } = await run('bash', [SCRIPT, 'start', ...args], {
      env: { ...process.env, KKCHAT_KAFKA_HEAP: process.env.KKCHAT_KAFKA_HEAP ?? '384m' },
      timeout: 10 * 60_000,
    });
    pid = Number(stdout.trim().split('\n').pop());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`kafka.sh start printed no PID: ${stdout}`);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (pid <= 0) return;
    const target = pid;
    pid = -1;
    try {
      process.kill(target, signal);
    } catch {
      return;
    }
    const deadline = Date.now() + 30_000;
    while (alive(target)) {
      if (Date.now() > deadline) process.kill(target, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await launch();
  return {
    brokers: `127.0.0.1:${port}`,
    get pid() {
      return pid;
    },
    async restart() {
      await kill();
      await launch();
    },
    kill,
    start: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
