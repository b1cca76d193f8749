import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
/** The KKChat server the harness runs; BENCH_KKCHAT_MAIN points it at another build (e.g. an older commit's, for before/after). */
const SERVER_MAIN = process.env.BENCH_KKCHAT_MAIN ? resolve(process.env.BENCH_KKCHAT_MAIN) : join(REPO, 'packages/server/dist/main.js');
export const GC_HOOK = join(here, 'relays/gc-hook.cjs');

/** Every child this process started, so that exit and signals can stop them (and only them). */
const children = new Set<ChildProcess>();
let cleanupInstalled = false;

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  installCleanup();
  return child;
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const child of children) if (child.pid && child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

export type Target = 'kkchat' | 'ws' | 'sio';
export const TARGET_LABEL: Record<Target, string> = { kkchat: 'KKChat', ws: 'bare ws relay', sio: 'Socket.IO relay' };

export interface ServerHandle {
  target: Target;
  url: string;
  /** The server's processes: one, or every KKChat node of a cluster (their CPU and RSS are summed). */
  pids: number[];
  /** Processes in front of or beside a cluster's nodes (nginx, the Kafka broker), reported apart. */
  infraPids: number[];
  dataDir: string | null;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). Keeps the data directory (see remove). */
  stop(): Promise<void>;
  remove(): void;
}

export interface KKChatServerOptions {
  dataDir?: string;
  env?: Record<string, string>;
  heartbeatMs: number;
  synchronous: 'FULL' | 'NORMAL';
}

/** Generous limits: the benchmark measures capacity, not the abuse protections (all set through env). */
export function benchEnv(opts: KKChatServerOptions): Record<string, string> {
  return {
    KKCHAT_SEND_MAX_PER_10S: '1000000',
    KKCHAT_API_MAX_PER_MIN: '1000000',
    KKCHAT_WS_MAX_PER_IP: '1000000',
    KKCHAT_LOGIN_MAX_PER_IP: '100000',
    KKCHAT_LOGIN_MAX_PER_ACCOUNT: '10000',
    KKCHAT_REGISTER_MAX_PER_IP: '100000',
    KKCHAT_ACCESS_TOKEN_TTL_SEC: '86400',
    KKCHAT_HEARTBEAT_MS: String(opts.heartbeatMs),
    KKCHAT_SQLITE_SYNCHRONOUS: opts.synchronous,
    KKCHAT_WS_AUTH_TIMEOUT_MS: '30000',
    KKCHAT_LOG_LEVEL: 'warn',
    ...opts.env,
  };
}

/** Extra node flags for the KKChat server, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
function extraServerArgs(): string[] {
  return (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

/** Starts the built KKChat server (embedded mode) on 127.0.0.1 with a temporary (or given) data directory. */
export async function startKKChat(opts: KKChatServerOptions): Promise<ServerHandle> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: run "npm run build" first`);
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kkchat-bench-'));
  const env: Record<string, string | undefined> = { ...process.env, KKCHAT_HOST: '127.0.0.1', KKCHAT_PORT: '0', KKCHAT_DATA_DIR: dataDir, ...benchEnv(opts) };
  // The "KKChat listening" line is logged at info; keep info so the port can be read, warn+ otherwise.
  env.KKCHAT_LOG_LEVEL = 'info';
  const child = track(
    spawn(process.execPath, [...extraServerArgs(), '--expose-gc', '--require', GC_HOOK, SERVER_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const port = await waitForLine(child, (line) => {
    if (!line.includes('KKChat listening')) return null;
    try {
      return (JSON.parse(line) as { port?: number }).port ?? null;
    } catch {
      return null;
    }
  });
  return handle('kkchat', child, port, dataDir);
}

export async function startRelay(target: 'ws' | 'sio', heartbeatMs: number): Promise<ServerHandle> {
  const file = join(here, 'relays', target === 'ws' ? 'ws-relay.mjs' : 'sio-relay.mjs');
  const child = track(
    spawn(process.execPath, ['--expose-gc', '--require', GC_HOOK, file], {
      env: { ...process.env, RELAY_HEARTBEAT_MS: String(heartbeatMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const port = await waitForLine(child, (line) => {
    const m = /^LISTENING (\d+)/.exec(line);
    return m ? Number(m[1]) : null;
  });
  return handle(target, child, port, null);
}

function handle(target: Target, child: ChildProcess, port: number, dataDir: string | null): ServerHandle {
  return {
    target,
    url: `http://127.0.0.1:${port}`,
    pids: [child.pid ?? -1],
    infraPids: [],
    dataDir,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
    remove() {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function waitForLine(child: ChildProcess, match: (line: string) => number | null): Promise<number> {
  return new Promise((resolvePort, reject) => {
    let buffered = '';
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (output.length < 20_000) output += line + '\n';
        const port = match(line);
        if (port) {
          clearTimeout(timer);
          resolvePort(port);
        } else if (/"level":(50|60)/.test(line)) process.stderr.write(`[server] ${line}\n`);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stderr.write(`[server] ${chunk.toString()}`);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Resident set size of a process in bytes (VmRSS from /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** User + system CPU time of a process in milliseconds (from /proc/<pid>/stat). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (0-based after the command name), in clock ticks (100/s on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Runs a full GC in processes started with the gc hook, waits for it to settle, and returns their summed RSS. */
export async function rssAfterGc(pids: number[], settleMs = 1500): Promise<number> {
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  await sleep(settleMs / 2);
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  await sleep(settleMs / 2);
  return sumOf(pids, rssBytes);
}

/** CPU time (ms) of several processes together; a process that is gone counts 0. */
export function cpuMsOf(pids: number[]): number {
  return sumOf(pids, cpuMs);
}

function sumOf(pids: number[], read: (pid: number) => number): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += read(pid);
    } catch {
      // the process exited
    }
  }
  return total;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- load-generator workers ------------------------------------------------------------------------------------

export interface Worker {
  index: number;
  pid: number;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Forks a load-generator process (TypeScript through tsx) and talks to it over IPC: {id, cmd, args} -> {id, result|error}. */
export function startWorker(index: number): Worker {
  const child = track(
    fork(join(here, 'worker.ts'), [], {
      execArgv: ['--conditions=source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_WORKER: String(index) },
    }),
  );
  let next = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  child.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error !== undefined) w.reject(new Error(`worker ${index}: ${msg.error}`));
    else w.resolve(msg.result);
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`worker ${index} exited (${code})`));
    waiting.clear();
  });
  return {
    index,
    pid: child.pid ?? -1,
    call<T>(cmd: string, args?: unknown): Promise<T> {
      const id = ++next;
      return new Promise<T>((resolveCall, reject) => {
        waiting.set(id, { resolve: resolveCall as (v: unknown) => void, reject });
        child.send({ id, cmd, args });
      });
    },
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}
