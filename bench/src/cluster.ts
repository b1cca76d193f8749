/**
 * KKChat in cluster mode for the benchmark (`--mode=cluster`): the one-command cluster of scripts/cluster.sh
 * (a Kafka broker in KRaft mode, N nodes running every role, nginx in front, the machine's PostgreSQL and Redis),
 * on a fresh PostgreSQL database and a Redis key prefix of this run's own. The clients talk to nginx only.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchEnv, GC_HOOK, REPO, type ServerHandle } from './procs.js';

const run = promisify(execFile);
const CLUSTER = join(REPO, 'scripts/cluster.sh');
const STATE = join(REPO, 'data/cluster');
/** nginx's port in scripts/cluster.sh. */
const URL_ = 'http://127.0.0.1:19080';
const DATABASE = 'kkchat_bench';

export interface BenchCluster {
  handle: ServerHandle;
  /** Stops everything scripts/cluster.sh started and drops the benchmark's database. */
  shutdown(): Promise<void>;
}

async function sh(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await run('bash', args, { cwd: REPO, env, maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 });
  return stdout;
}

async function psql(sql: string): Promise<void> {
  await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', sql], { timeout: 60_000 });
}

function pidFile(file: string): number | null {
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export async function startBenchCluster(opts: { nodes: number; heartbeatMs: number; log: (line: string) => void }): Promise<BenchCluster> {
  const status = await sh([CLUSTER, 'status']).catch((error: { stdout?: string }) => error.stdout ?? '');
  if (/node-\d+: running/.test(status)) {
    throw new Error('a KKChat cluster of scripts/cluster.sh is running; the benchmark starts its own: run "bash scripts/cluster.sh stop" first');
  }
  await sh([join(REPO, 'scripts/db-services.sh')]);
  await psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await psql(`CREATE DATABASE ${DATABASE}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...benchEnv({ heartbeatMs: opts.heartbeatMs, synchronous: 'NORMAL' }),
    KKCHAT_REDIS_PREFIX: `kkchat-bench-${Date.now()}:`,
    // The nodes' own flags: the GC hook the memory figures need, and any BENCH_SERVER_NODE_ARGS (profiling).
    KKCHAT_NODE_ARGS: ['--expose-gc', '--require', GC_HOOK, ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)].join(' '),
  };
  opts.log(`  cluster: starting Kafka, ${opts.nodes} nodes and nginx (scripts/cluster.sh, database ${DATABASE})...`);
  const t0 = Date.now();
  let started = false;
  const shutdown = async () => {
    if (started) await sh([CLUSTER, 'stop']).catch((error: Error) => opts.log(`  cluster: stop failed: ${error.message}`));
    started = false;
    await psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => undefined);
  };
  try {
    started = true;
    await sh([CLUSTER, 'start', '--nodes', String(opts.nodes), '--database-url', `postgres://postgres@127.0.0.1:5432/${DATABASE}`], env);
  } catch (error) {
    await shutdown();
    throw error;
  }
  const pids = Array.from({ length: opts.nodes }, (_, i) => pidFile(join(STATE, `node-${i + 1}.pid`))).filter((p): p is number => p !== null);
  const nginx = pidFile(join(STATE, 'nginx/nginx.pid'));
  const kafkaStatus = await sh([join(REPO, 'scripts/kafka.sh'), 'status']).catch(() => '');
  const kafka = Number(/pid (\d+)/.exec(kafkaStatus)?.[1] ?? 0);
  const infraPids = [nginx, kafka].filter((p): p is number => !!p && p > 0);
  opts.log(`  cluster: up in ${((Date.now() - t0) / 1000).toFixed(1)} s (node pids ${pids.join(', ')}; nginx ${nginx}, Kafka ${kafka})`);
  const handle: ServerHandle = {
    target: 'kkchat',
    url: URL_,
    pids,
    infraPids,
    dataDir: null,
    // The cluster stays up for the whole run; the scenarios' stop() leaves it running (see shutdown).
    stop: async () => undefined,
    remove: () => undefined,
  };
  return { handle, shutdown };
}
