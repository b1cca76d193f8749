import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, testServerEngine } from './databases.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(here, '../../dist/main.js');

export interface ServerProcess {
  url: string;
  pid: number;
  dataDir: string;
  /** Sends a signal (SIGKILL simulates a crash) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the process and removes its data directory. */
  stop(): Promise<void>;
  /** Calls `listener` with the exit code when the current process exits. */
  onExit(listener: (code: number | null) => void): void;
}

/**
 * Runs the built server (`packages/server/dist/main.js`, build it first) as a child process on 127.0.0.1 with a
 * temporary data directory. Used where a real process matters: kill -9, restarts, browser tests.
 */
export async function startServerProcess(options: { env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kkchat-proc-'));
  // KKCHAT_TEST_DATABASE=postgres|mysql: a fresh database that survives restarts and is dropped by stop().
  const engine = testServerEngine();
  const database = engine !== 'sqlite' && !options.env?.KKCHAT_DATABASE_URL ? await createTestDatabase(engine) : null;
  let port = 0;
  let child: ChildProcess;

  const launch = async (): Promise<void> => {
    const env = {
      ...process.env,
      KKCHAT_HOST: '127.0.0.1',
      KKCHAT_PORT: String(port),
      KKCHAT_DATA_DIR: dataDir,
      ...(database ? { KKCHAT_DATABASE_URL: database.url } : {}),
      ...options.env,
      // The harness reads the "KKChat listening" info line to learn the port.
      KKCHAT_LOG_LEVEL: 'info',
    };
    child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    port = await waitForListening(child);
  };
  await launch();

  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolveExit) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolveExit();
      child.once('exit', () => resolveExit());
      child.kill(signal);
    });

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get pid() {
      return child.pid ?? -1;
    },
    dataDir,
    kill: (signal = 'SIGTERM') => waitExit(signal),
    onExit: (listener) => {
      child.once('exit', (code) => listener(code));
    },
    restart: launch,
    async stop() {
      await waitExit('SIGTERM');
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * How long a server may take to listen. A node in cluster mode joins its Kafka consumer group before it listens,
 * which on a loaded 2-core machine has taken over 20 s; this is a bound on waiting, not a performance check.
 */
const START_TIMEOUT_MS = 60_000;

/** Resolves with the port once the server logs "KKChat listening"; rejects if it exits first. */
function waitForListening(child: ChildProcess): Promise<number> {
  return new Promise((resolvePort, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      // Do not leave a half-started server behind.
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${START_TIMEOUT_MS / 1000} s:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('KKChat listening')) continue;
        try {
          const entry = JSON.parse(line) as { port?: number };
          if (entry.port) {
            clearTimeout(timer);
            child.stdout?.off('data', onData);
            child.stdout?.resume();
            child.stderr?.resume();
            resolvePort(entry.port);
            return;
          }
        } catch {
          // a partial line; wait for more
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}
