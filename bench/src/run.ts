import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { startBenchCluster, type BenchCluster } from './cluster.js';
import { startKKChat, startWorker } from './procs.js';
import { seedPool } from './seed.js';
import { consoleTable, markdownTable, svgChart, type ScenarioResult } from './report.js';
import type { BenchOptions, Scenario } from './options.js';
import type { Ctx } from './scenarios/common.js';
import { idleScenario } from './scenarios/idle.js';
import { throughputScenario } from './scenarios/throughput.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { stormScenario } from './scenarios/storm.js';
import { httpScenario } from './scenarios/http.js';
import { filesScenario } from './scenarios/files.js';

export { ALL_SCENARIOS, type BenchOptions, type Scenario } from './options.js';

export async function runBench(opts: BenchOptions): Promise<{ results: ScenarioResult[]; file: string; markdown: string }> {
  const log = opts.log;
  const ctx: Ctx = { opts, workers: [], pool: null, kkDataDir: null, cluster: null };
  const nodes = opts.nodes ?? 3;
  let cluster: BenchCluster | null = null;
  const started = Date.now();
  const loadAtStart = loadavg().map((x) => +x.toFixed(2));
  const results: ScenarioResult[] = [];
  try {
    ctx.workers = Array.from({ length: opts.workers }, (_, i) => startWorker(i));
    if (opts.targets.includes('kkchat')) {
      const seedCount = Math.max(opts.users, 2 * opts.pairs, opts.stormClients, opts.scenarios.includes('fanout') ? opts.groupMembers : 0, 4);
      if (opts.mode === 'cluster') {
        cluster = await startBenchCluster({ nodes, heartbeatMs: opts.heartbeatMs, log });
        ctx.cluster = cluster.handle;
      }
      const server = ctx.cluster ?? (await startKKChat({ heartbeatMs: opts.heartbeatMs, synchronous: 'NORMAL' }));
      ctx.kkDataDir = server.dataDir;
      log(`seeding ${seedCount} users and ${Math.floor(seedCount / 2)} friendships over the API...`);
      const t0 = Date.now();
      ctx.pool = await seedPool(server.url, seedCount, (n) => log(`  registered ${n}/${seedCount}`));
      log(`  seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await server.stop();
    }
    for (const scenario of opts.scenarios) {
      log(`== scenario: ${scenario}`);
      const result = await SCENARIOS[scenario](ctx);
      results.push(result);
      log(consoleTable(result));
    }
  } finally {
    await Promise.all(ctx.workers.map((w) => w.stop()));
    await cluster?.shutdown();
    if (ctx.kkDataDir) {
      const { rmSync } = await import('node:fs');
      rmSync(ctx.kkDataDir, { recursive: true, force: true });
    }
  }
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
  const dir = join(opts.outDir, stamp);
  mkdirSync(dir, { recursive: true });
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memTotalGiB: +(totalmem() / 2 ** 30).toFixed(1),
    memFreeGiB: +(freemem() / 2 ** 30).toFixed(1),
    node: process.version,
    // Other work on the machine competes for the same cores; a load average well above nproc means the numbers
    // below are depressed by it.
    loadAvgAtStart: loadAtStart,
    loadAvgAtEnd: loadavg().map((x) => +x.toFixed(2)),
  };
  const file = join(dir, 'results.json');
  const { log: _log, ...shownOpts } = opts;
  writeFileSync(file, JSON.stringify({ startedAt: new Date(started).toISOString(), durationS: (Date.now() - started) / 1000, machine, options: shownOpts, results }, null, 2));
  const markdown = [
    `## Results ${new Date(started).toISOString()}`,
    '',
    `Machine: ${machine.nproc} × ${machine.cpu}, ${machine.memTotalGiB} GiB RAM, Node ${machine.node}. Load average (1/5/15 min) at start ${machine.loadAvgAtStart.join(' / ')}, at end ${machine.loadAvgAtEnd.join(' / ')}. Run took ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    '',
    opts.mode === 'cluster'
      ? `Mode: **cluster**: ${nodes} KKChat nodes (every role) behind nginx, on PostgreSQL, Redis and a single Kafka broker (scripts/cluster.sh), all on this machine; clients connect through nginx. KKChat's server CPU and RSS are summed over its nodes; nginx and Kafka CPU is shown apart where measured; PostgreSQL and Redis are not counted.\n`
      : 'Mode: **embedded** (one KKChat process on SQLite).\n',
    ...results.map((r) => markdownTable(r) + (r.skipped ? '' : `\n![${r.title}](${r.name}.svg)\n`)),
  ].join('\n');
  writeFileSync(join(dir, 'summary.md'), markdown);
  for (const r of results) if (!r.skipped) writeFileSync(join(dir, `${r.name}.svg`), svgChart(r));
  log(`results: ${dir}/ (results.json, summary.md, one SVG per scenario)`);
  return { results, file, markdown };
}

const SCENARIOS: Record<Scenario, (ctx: Ctx) => Promise<ScenarioResult>> = {
  idle: idleScenario,
  throughput: throughputScenario,
  fanout: fanoutScenario,
  storm: stormScenario,
  http: httpScenario,
  files: filesScenario,
};
