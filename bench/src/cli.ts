/**
 * npm run bench [-- options]
 *
 * Starts the built KKChat server (embedded mode, temporary data directory; or with --mode=cluster, the cluster of
 * scripts/cluster.sh) and the two baseline relays as separate processes, drives them from forked load-generator processes, and writes JSON, Markdown and SVG
 * under bench/results/<timestamp>/. See docs/benchmarks.md.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_SCENARIOS, runBench, type BenchOptions, type Scenario } from './run.js';
import { REPO, type Target } from './procs.js';

const HELP = `KKChat benchmark: KKChat beside a bare ws relay and a Socket.IO relay, same machine, same run.

Usage: npm run bench -- [options]

  --scenarios=a,b    idle,throughput,fanout,storm,http,files (default: all)
  --targets=a,b      kkchat,ws,sio (default: all)
  --mode=M           embedded (default: one process on SQLite) or cluster (scripts/cluster.sh: Kafka, --nodes
                     nodes and nginx on this machine's PostgreSQL and Redis; clients go through nginx)
  --nodes=N          KKChat nodes in cluster mode (default 3)
  --full             the big sizes (19,000 idle sockets, 2,000 pairs, 2,000-member group, 10,000-client storm); long
  --idle=N           idle sockets (quick 2000, full 19000; one process holds at most ~19,800)
  --pairs=N          one-to-one pairs (quick 400, full 2000)
  --storm=N          reconnect-storm clients (quick 500, full 10000)
  --group=N          fan-out group members, all online (quick 200, full 2000; the server's default limit is 2000)
  --senders=N        fan-out member sockets that send into the group (default 16; each stays under the per-socket
                     frame budget of 35/s, so N × 35 messages/s is the most the ramp can offer)
  --users=N          users seeded for KKChat (default: what the scenarios need)
  --step=MS          duration of each rate step (quick 2000, full 5000)
  --start-rate=N     first offered rate in msg/s (default 200, then ×1.6 per step)
  --max-steps=N      at most this many rising steps (default 12)
  --http=MS          duration of each HTTP load (quick 3000, full 10000)
  --file-sizes=a,b   file sizes in MiB for the files scenario (default 5,50,100)
  --stores=a,b       blob stores for the files scenario: local,s3 (default both; s3 starts S3Proxy on loopback)
  --workers=N        load-generator processes (default 2)
  --heartbeat=MS     heartbeat interval for every server (default 5000, so the idle CPU window is short)
  --sync=FULL,NORMAL KKCHAT_SQLITE_SYNCHRONOUS values for the throughput scenario (default both)
  --out=DIR          results directory (default bench/results)
`;

function list<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T[]): T[] {
  if (!value) return fallback;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean) as T[];
  for (const item of items) if (!allowed.includes(item)) throw new Error(`unknown value "${item}" (allowed: ${allowed.join(', ')})`);
  return items;
}

export function parseOptions(argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      full: { type: 'boolean' },
      mode: { type: 'string' },
      nodes: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      idle: { type: 'string' },
      pairs: { type: 'string' },
      storm: { type: 'string' },
      group: { type: 'string' },
      senders: { type: 'string' },
      users: { type: 'string' },
      step: { type: 'string' },
      'start-rate': { type: 'string' },
      'max-steps': { type: 'string' },
      http: { type: 'string' },
      workers: { type: 'string' },
      'file-sizes': { type: 'string' },
      stores: { type: 'string' },
      heartbeat: { type: 'string' },
      sync: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (values.help) return null;
  const full = values.full ?? false;
  const num = (v: string | undefined, quick: number, big: number) => {
    if (v === undefined) return full ? big : quick;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`not a number: ${v}`);
    return n;
  };
  const idleConnections = num(values.idle, 2000, 19_000);
  if (idleConnections > 19_000) throw new Error('--idle above 19000: one process cannot hold more sockets here (open-file limit 20,000); the report extrapolates to 50,000');
  const pairs = num(values.pairs, 400, 2000);
  const stormClients = num(values.storm, 500, 10_000);
  const mode = list<'embedded' | 'cluster'>(values.mode, ['embedded', 'cluster'], ['embedded']);
  if (mode.length !== 1) throw new Error('--mode takes one of embedded, cluster');
  const nodes = num(values.nodes, 3, 3);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) throw new Error('--nodes must be 1 to 20');
  return {
    mode: mode[0],
    nodes,
    scenarios: list<Scenario>(values.scenarios, ALL_SCENARIOS, ALL_SCENARIOS),
    targets: list<Target>(values.targets, ['kkchat', 'ws', 'sio'], ['kkchat', 'ws', 'sio']),
    users: num(values.users, 0, 0),
    idleConnections,
    pairs,
    stormClients,
    stormMessages: 4,
    groupMembers: num(values.group, 200, 2000),
    fanoutStartRate: 5,
    fanoutSenders: Math.max(1, num(values.senders, 16, 16)),
    stepMs: num(values.step, 2000, 5000),
    httpMs: num(values.http, 3000, 10_000),
    historyMessages: full ? 200 : 100,
    fileSizesMiB: (values['file-sizes'] ?? '5,50,100').split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`not a size in MiB: ${v}`);
      return n;
    }),
    fileStores: list<'local' | 's3'>(values.stores, ['local', 's3'], ['local', 's3']),
    workers: Math.max(1, num(values.workers, 2, 2)),
    heartbeatMs: num(values.heartbeat, 5000, 5000),
    synchronous: list<'FULL' | 'NORMAL'>(values.sync, ['FULL', 'NORMAL'], ['FULL', 'NORMAL']),
    maxSteps: num(values['max-steps'], 12, 16),
    startRate: num(values['start-rate'], 200, 200),
    outDir: resolve(values.out ?? resolve(REPO, 'bench/results')),
    log: (line) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) {
    process.stdout.write(HELP);
    return;
  }
  const { log: _log, ...shown } = opts;
  opts.log(`bench: ${JSON.stringify(shown)}`);
  const { markdown } = await runBench(opts);
  process.stdout.write('\n' + markdown + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
