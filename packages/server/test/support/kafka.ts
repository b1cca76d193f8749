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

/**
 * A port that is free now, for a server the test starts and restarts later on the same port (a broker, nginx).
 * It is taken below the OS's ephemeral range (32768 and up on Linux), so an outgoing connection cannot grab it
 * between the check and the bind or while the server is stopped; the OS says whether it is free by binding it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port found between 20000 and 32000');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/** Two different free ports: the broker's and its controller's. */
async function brokerPorts(): Promise<[string, string]> {
  const port = await freePort();
  let controller = await freePort();
  while (controller === port) controller = await freePort();
  return [String(port), String(controller)];
}

/**
 * A single-broker Kafka (KRaft) of this test's own, from `scripts/kafka.sh` on free loopback ports with a
 * temporary directory; the jars come from the project's cache (fetched on first use).
 */
export async function startKafka(): Promise<TestKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'kkchat-kafka-'));
  const [port, controllerPort] = await brokerPorts();
  const args = ['--dir', join(dir, 'broker'), '--port', port, '--controller-port', controllerPort];
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
  // Another process may still bind one of the ports first; then try other ones (the first start only: a restart
  // keeps its ports, which are outside the range the OS hands out).
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 3 || !String(error).includes('Address already in use')) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
      rmSync(join(dir, 'broker'), { recursive: true, force: true });
      [args[3], args[5]] = await brokerPorts();
    }
  }
  return {
    brokers: `127.0.0.1:${args[3]}`,
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
