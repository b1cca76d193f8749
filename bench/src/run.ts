import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  cpuMs,
  rssAfterGc,
  sleep,
  startKKChat,
  startRelay,
  startWorker,
  type ServerHandle,
  type Target,
  type Worker,
} from './procs.js';
import { seedPool, type Pool } from './seed.js';
import { consoleTable, latency, markdownTable, svgChart, type Latency, type Row, type ScenarioResult } from './report.js';
import type { ConnSpec } from './worker.js';
import type { AuthResult } from '@kkchat/protocol';

export type Scenario = 'idle' | 'throughput' | 'fanout' | 'storm' | 'http';
export const ALL_SCENARIOS: Scenario[] = ['idle', 'throughput', 'fanout', 'storm', 'http'];

export interface BenchOptions {
  scenarios: Scenario[];
  targets: Target[];
  /** Users registered for the KKChat runs (pairs 2i/2i+1 are friends). */
  users: number;
  idleConnections: number;
  pairs: number;
  stormClients: number;
  /** Members of the fan-out group (all online). */
  groupMembers: number;
  /** First rate (messages/s into the group) of the fan-out ramp. */
  fanoutStartRate: number;
  /** Messages sent into each conversation while its members are away (reconnect storm). */
  stormMessages: number;
  stepMs: number;
  httpMs: number;
  /** Messages put into each of the (up to 50) conversations the history scenario pages through. */
  historyMessages: number;
  workers: number;
  heartbeatMs: number;
  synchronous: ('FULL' | 'NORMAL')[];
  /** Stop raising the rate after this many steps (bounds the run). */
  maxSteps: number;
  startRate: number;
  outDir: string;
  log: (line: string) => void;
  quiet?: boolean;
}

/** Client sockets are spread over these source addresses to get past one address's ephemeral-port range. */
const ADDRESSES = Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 1}`);
/** KKChat allows 400 frames per socket per 10 s (not configurable); stay under it. */
const KKCHAT_SOCKET_RATE = 35;

interface Ctx {
  opts: BenchOptions;
  workers: Worker[];
  pool: Pool | null;
  kkDataDir: string | null;
}

export async function runBench(opts: BenchOptions): Promise<{ results: ScenarioResult[]; file: string; markdown: string }> {
  const log = opts.log;
  const ctx: Ctx = { opts, workers: [], pool: null, kkDataDir: null };
  const started = Date.now();
  const loadAtStart = loadavg().map((x) => +x.toFixed(2));
  const results: ScenarioResult[] = [];
  try {
    ctx.workers = Array.from({ length: opts.workers }, (_, i) => startWorker(i));
    if (opts.targets.includes('kkchat')) {
      const seedCount = Math.max(opts.users, 2 * opts.pairs, opts.stormClients, opts.scenarios.includes('fanout') ? opts.groupMembers : 0, 4);
      const server = await startKKChat({ heartbeatMs: opts.heartbeatMs, synchronous: 'NORMAL' });
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
    ...results.map((r) => markdownTable(r) + (r.skipped ? '' : `\n![${r.title}](${r.name}.svg)\n`)),
  ].join('\n');
  writeFileSync(join(dir, 'summary.md'), markdown);
  for (const r of results) if (!r.skipped) writeFileSync(join(dir, `${r.name}.svg`), svgChart(r));
  log(`results: ${dir}/ (results.json, summary.md, one SVG per scenario)`);
  return { results, file, markdown };
}

async function startTarget(ctx: Ctx, target: Target, synchronous: 'FULL' | 'NORMAL' = ctx.opts.synchronous[0]): Promise<ServerHandle> {
  if (target === 'kkchat') return startKKChat({ dataDir: ctx.kkDataDir!, heartbeatMs: ctx.opts.heartbeatMs, synchronous });
  return startRelay(target, ctx.opts.heartbeatMs);
}

/** Splits items into one contiguous chunk per worker (pairs never straddle two workers). */
function chunks<T>(items: T[], n: number, unit = 1): T[][] {
  const units = Math.ceil(items.length / unit);
  const per = Math.ceil(units / n);
  return Array.from({ length: n }, (_, i) => items.slice(i * per * unit, (i + 1) * per * unit));
}

/** Connection specs for `count` sockets; with pairs, socket 2i sends to 2i+1 and back. */
function specs(ctx: Ctx, target: Target, count: number, paired: boolean): ConnSpec[] {
  const out: ConnSpec[] = [];
  for (let i = 0; i < count; i++) {
    const peer = paired ? (i % 2 === 0 ? i + 1 : i - 1) : -1;
    if (target === 'kkchat') {
      const pool = ctx.pool!;
      const u = pool.users[i % pool.users.length];
      const conversationId = pool.conversations[Math.floor((i % pool.users.length) / 2)];
      out.push({ id: u.auth.user.id, token: u.auth.accessToken, conversationId, peer });
    } else {
      out.push({ id: `u${i}`, peer });
    }
  }
  return out;
}

/** Connects specs across workers (peer indexes are made local to each chunk). */
async function connectAll(ctx: Ctx, target: Target, url: string, all: ConnSpec[]): Promise<{ ms: number; connected: number; failed: number }> {
  const t0 = Date.now();
  const parts = chunks(all, ctx.workers.length, 2);
  const res = await Promise.all(
    parts.map((part, w) => {
      const offset = parts.slice(0, w).reduce((n, p) => n + p.length, 0);
      const local = part.map((s) => ({ ...s, peer: s.peer < 0 ? -1 : s.peer - offset }));
      return ctx.workers[w].call<{ ms: number; connected: number; failed: number }>('connect', {
        target,
        url,
        specs: local,
        addresses: ADDRESSES,
        concurrency: 200,
      });
    }),
  );
  return { ms: Date.now() - t0, connected: res.reduce((n, r) => n + r.connected, 0), failed: res.reduce((n, r) => n + r.failed, 0) };
}

async function closeAll(ctx: Ctx): Promise<void> {
  await Promise.all(ctx.workers.map((w) => w.call('closeAll')));
}

async function workersCpu(ctx: Ctx): Promise<number> {
  const r = await Promise.all(ctx.workers.map((w) => w.call<{ cpuMs: number }>('cpu')));
  return r.reduce((n, x) => n + x.cpuMs, 0);
}

const KIB = 1024;
const MIB = 1024 * 1024;

// ---- idle connections -----------------------------------------------------------------------------------------

async function idleScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts, log } = { opts: ctx.opts, log: ctx.opts.log };
  const n = opts.idleConnections;
  const per: Record<Target, Record<string, number> | null> = { kkchat: null, ws: null, sio: null };
  for (const target of opts.targets) {
    const server = await startTarget(ctx, target);
    try {
      const rss0 = await rssAfterGc(server.pid);
      const c0 = cpuMs(server.pid);
      await sleep(opts.heartbeatMs);
      const emptyCpu = (cpuMs(server.pid) - c0) / opts.heartbeatMs;
      log(`  ${target}: empty server ${(rss0 / MIB).toFixed(1)} MiB; connecting ${n} sockets...`);
      const conn = await connectAll(ctx, target, server.url, specs(ctx, target, n, false));
      log(`  ${target}: ${conn.connected} connected (${conn.failed} failed) in ${(conn.ms / 1000).toFixed(1)} s`);
      await sleep(2000);
      const rss1 = await rssAfterGc(server.pid);
      const c1 = cpuMs(server.pid);
      const window = 2 * opts.heartbeatMs;
      await sleep(window);
      const busyCpu = (cpuMs(server.pid) - c1) / window;
      const heartbeatCpu = Math.max(0, busyCpu - emptyCpu);
      per[target] = {
        connected: conn.connected,
        failed: conn.failed,
        connectMs: conn.ms,
        rssEmptyMiB: rss0 / MIB,
        rssMiB: rss1 / MIB,
        perConnKiB: (rss1 - rss0) / Math.max(1, conn.connected) / KIB,
        // CPU share of one core spent on heartbeats, scaled to 10k connections.
        cpuPctPer10k: (heartbeatCpu * 100 * 10_000) / Math.max(1, conn.connected),
        // Extrapolation: 50,000 connections.
        rss50kMiB: (rss1 - rss0) / Math.max(1, conn.connected) * 50_000 / MIB,
      };
      log(`  ${target}: +${per[target]!.perConnKiB.toFixed(2)} KiB/conn, heartbeat CPU ${per[target]!.cpuPctPer10k.toFixed(2)}% of a core per 10k`);
    } finally {
      await closeAll(ctx);
      await server.stop();
    }
  }
  const v = (t: Target, k: string) => per[t]?.[k] ?? null;
  const row = (metric: string, unit: string, better: Row['better'], key: string, digits = 0): Row => ({
    metric,
    unit,
    better,
    kkchat: v('kkchat', key),
    ws: v('ws', key),
    sio: v('sio', key),
    digits,
  });
  return {
    name: 'idle',
    title: `Idle authenticated connections (${n.toLocaleString('en-US')} sockets)`,
    params: { connections: n, users: ctx.pool ? Math.min(ctx.pool.users.length, n) : 0, heartbeatMs: opts.heartbeatMs, workers: opts.workers },
    rows: [
      row('connected', 'sockets', 'higher', 'connected'),
      row('time to connect all', 'ms', 'lower', 'connectMs'),
      row('server RSS, empty (after GC)', 'MiB', 'lower', 'rssEmptyMiB', 1),
      row('server RSS with all connected (after GC)', 'MiB', 'lower', 'rssMiB', 1),
      row('server RSS per connection', 'KiB', 'lower', 'perConnKiB', 2),
      row('extrapolated: 50,000 connections above empty', 'MiB', 'lower', 'rss50kMiB', 0),
      row(`heartbeat CPU per 10k conns (beat ${opts.heartbeatMs} ms)`, '% of a core', 'lower', 'cpuPctPer10k', 2),
    ],
    notes: [
      'RSS is read from /proc/<pid>/status after two forced full GCs (servers run with --expose-gc and a SIGUSR2 hook); kernel socket buffers are not in RSS.',
      `KKChat sockets are authenticated (auth frame + session check + presence) through the SDK's Realtime connection; ${ctx.pool ? `they share ${Math.min(ctx.pool.users.length, n)} seeded users (several devices per user when sockets > users)` : ''}.`,
      'One process holds at most ~19,800 sockets here (open-file limit 20,000); the 50,000 figure is an extrapolation from the measured per-connection cost.',
      'Heartbeat CPU = server CPU over two heartbeat intervals with every socket idle, minus the empty server\'s CPU. KKChat clients also send an app-level ping each interval (the SDK does); relay clients do not.',
    ],
    raw: per,
  };
}

// ---- one-to-one throughput ----------------------------------------------------------------------------------------

interface Step {
  rate: number;
  sent: number;
  ackedPerSec: number;
  deliveredPerSec: number;
  achieved: number;
  deliver: Latency;
  ack: Latency;
  errors: number;
  serverCpuPct: number;
  clientCpuPct: number;
  /** Server CPU time per acknowledged message: a figure that competing load on the machine does not inflate. */
  serverCpuUsPerMsg: number;
}

async function loadStep(ctx: Ctx, server: ServerHandle, rate: number, durationMs: number): Promise<Step> {
  const w = ctx.workers.length;
  const c0 = cpuMs(server.pid);
  const t0 = Date.now();
  const parts = await Promise.all(
    ctx.workers.map((worker) =>
      worker.call<{
        windowMs: number;
        sent: number;
        ackedInWindow: number;
        deliveredInWindow: number;
        errors: number;
        errorCodes: Record<string, number>;
        ackLat: number[];
        delLat: number[];
        cpuMs: number;
        elapsedMs: number;
        ackedTotal: number;
      }>('load', { ratePerSec: rate / w, durationMs, drainMs: 10_000 }),
    ),
  );
  const serverCpu = cpuMs(server.pid) - c0;
  const codes: Record<string, number> = {};
  for (const p of parts) for (const [k, n] of Object.entries(p.errorCodes)) codes[k] = (codes[k] ?? 0) + n;
  if (Object.keys(codes).length) ctx.opts.log(`  error frames so far: ${JSON.stringify(codes)}`);
  const elapsed = Date.now() - t0;
  const windowS = Math.max(...parts.map((p) => p.windowMs)) / 1000;
  const acked = parts.reduce((n, p) => n + p.ackedInWindow, 0) / windowS;
  const delivered = parts.reduce((n, p) => n + p.deliveredInWindow, 0) / windowS;
  return {
    rate,
    sent: parts.reduce((n, p) => n + p.sent, 0),
    ackedPerSec: acked,
    deliveredPerSec: delivered,
    achieved: Math.min(acked, delivered),
    deliver: latency(parts.flatMap((p) => p.delLat)),
    ack: latency(parts.flatMap((p) => p.ackLat)),
    errors: parts.reduce((n, p) => n + p.errors, 0),
    serverCpuPct: (serverCpu / elapsed) * 100,
    clientCpuPct: (parts.reduce((n, p) => n + p.cpuMs, 0) / elapsed) * 100,
    serverCpuUsPerMsg: (serverCpu * 1000) / Math.max(1, parts.reduce((n, p) => n + p.ackedTotal, 0)),
  };
}

async function rampAndMeasure(ctx: Ctx, label: string, server: ServerHandle, cap: number): Promise<{ steps: Step[]; max: number; at50: Step; at90: Step; capped: boolean }> {
  const { opts, log } = { opts: ctx.opts, log: ctx.opts.log };
  const steps: Step[] = [];
  let rate = opts.startRate;
  let capped = false;
  for (let i = 0; i < opts.maxSteps; i++) {
    if (rate > cap) {
      rate = cap;
      capped = true;
    }
    const s = await loadStep(ctx, server, rate, opts.stepMs);
    steps.push(s);
    log(
      `  ${label}: offered ${Math.round(rate)}/s → acked ${Math.round(s.ackedPerSec)}/s, delivered ${Math.round(s.deliveredPerSec)}/s, p99 ${s.deliver.p99.toFixed(1)} ms, server CPU ${s.serverCpuPct.toFixed(0)}%, clients CPU ${s.clientCpuPct.toFixed(0)}%`,
    );
    const broke = s.achieved < 0.9 * rate || s.deliver.p99 > 1000 || s.errors > 0.01 * s.sent;
    if (broke || capped) break;
    rate = Math.round(rate * 1.6);
  }
  const max = Math.max(...steps.map((s) => s.achieved));
  const at50 = await loadStep(ctx, server, Math.max(1, Math.round(max * 0.5)), opts.stepMs);
  log(`  ${label}: at 50% (${Math.round(max * 0.5)}/s) p50/p95/p99 ${at50.deliver.p50.toFixed(1)}/${at50.deliver.p95.toFixed(1)}/${at50.deliver.p99.toFixed(1)} ms`);
  const at90 = await loadStep(ctx, server, Math.max(1, Math.round(max * 0.9)), opts.stepMs);
  log(`  ${label}: at 90% (${Math.round(max * 0.9)}/s) p50/p95/p99 ${at90.deliver.p50.toFixed(1)}/${at90.deliver.p95.toFixed(1)}/${at90.deliver.p99.toFixed(1)} ms`);
  return { steps, max, at50, at90, capped };
}

async function throughputScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts } = ctx;
  const sockets = 2 * opts.pairs;
  const runs: Record<string, Awaited<ReturnType<typeof rampAndMeasure>>> = {};
  const variants: { key: string; target: Target; sync?: 'FULL' | 'NORMAL' }[] = [];
  for (const target of opts.targets) {
    if (target === 'kkchat') for (const sync of opts.synchronous) variants.push({ key: `kkchat-${sync}`, target, sync });
    else variants.push({ key: target, target });
  }
  for (const v of variants) {
    const server = await startTarget(ctx, v.target, v.sync);
    try {
      const conn = await connectAll(ctx, v.target, server.url, specs(ctx, v.target, sockets, true));
      opts.log(`  ${v.key}: ${conn.connected} sockets online in ${(conn.ms / 1000).toFixed(1)} s`);
      const cap = v.target === 'kkchat' ? KKCHAT_SOCKET_RATE * conn.connected : Number.POSITIVE_INFINITY;
      runs[v.key] = await rampAndMeasure(ctx, v.key, server, cap);
    } finally {
      await closeAll(ctx);
      await server.stop();
    }
  }
  const rows: Row[] = [];
  const kkKeys = opts.synchronous.map((s) => `kkchat-${s}`).filter((k) => runs[k]);
  const base = (t: 'ws' | 'sio', f: (r: (typeof runs)[string]) => number) => (runs[t] ? f(runs[t]) : null);
  const metrics: { metric: string; unit: string; better: Row['better']; f: (r: (typeof runs)[string]) => number; digits?: number }[] = [
    { metric: 'max acked and delivered', unit: 'msg/s', better: 'higher', f: (r) => r.max },
    { metric: 'send→deliver p50 at 50% of max', unit: 'ms', better: 'lower', f: (r) => r.at50.deliver.p50, digits: 1 },
    { metric: 'send→deliver p95 at 50% of max', unit: 'ms', better: 'lower', f: (r) => r.at50.deliver.p95, digits: 1 },
    { metric: 'send→deliver p99 at 50% of max', unit: 'ms', better: 'lower', f: (r) => r.at50.deliver.p99, digits: 1 },
    { metric: 'send→deliver p50 at 90% of max', unit: 'ms', better: 'lower', f: (r) => r.at90.deliver.p50, digits: 1 },
    { metric: 'send→deliver p95 at 90% of max', unit: 'ms', better: 'lower', f: (r) => r.at90.deliver.p95, digits: 1 },
    { metric: 'send→deliver p99 at 90% of max', unit: 'ms', better: 'lower', f: (r) => r.at90.deliver.p99, digits: 1 },
    { metric: 'send→ack p99 at 50% of max', unit: 'ms', better: 'lower', f: (r) => r.at50.ack.p99, digits: 1 },
    { metric: 'server CPU at 90% of max', unit: '% of a core', better: 'lower', f: (r) => r.at90.serverCpuPct },
    { metric: 'server CPU per message at 90% of max', unit: 'µs', better: 'lower', f: (r) => r.at90.serverCpuUsPerMsg },
    { metric: 'implied ceiling on one uncontended core (1 s / CPU per message)', unit: 'msg/s', better: 'higher', f: (r) => 1e6 / r.at90.serverCpuUsPerMsg },
    { metric: 'load generator CPU at 90% of max', unit: '% of a core', better: 'lower', f: (r) => r.at90.clientCpuPct },
  ];
  const keys = kkKeys.length ? kkKeys : [null];
  for (const m of metrics) {
    for (const k of keys) {
      rows.push({
        metric: k && kkKeys.length > 1 ? `${m.metric} [${k.replace('kkchat-', 'synchronous=')}]` : m.metric,
        unit: m.unit,
        better: m.better,
        kkchat: k ? m.f(runs[k]) : null,
        ws: base('ws', m.f),
        sio: base('sio', m.f),
        digits: m.digits,
      });
    }
  }
  const notes = [
    `${opts.pairs} pairs (${sockets} sockets, one per user); every socket sends to its peer; open-loop rate rising ×1.6 per ${opts.stepMs} ms step until delivered < 90% of offered, p99 > 1 s, or >1% errors; then ${opts.stepMs} ms at 50% and 90% of the best achieved rate.`,
    'Achieved rate = min(acks, deliveries) received inside the step window per second. Latency is measured send→deliver on the receiving socket (same process clock).',
  ];
  for (const k of kkKeys) {
    if (runs[k].capped) notes.push(`${k}: stopped at KKChat's per-socket frame budget (400 frames/10 s, not configurable), ${KKCHAT_SOCKET_RATE}/s × sockets: the server was not saturated; use more --pairs.`);
  }
  const lines = Object.entries(runs).map(([k, r]) => ({
    label: `${k} delivered/s`,
    points: r.steps.map((s) => [s.rate, s.achieved] as [number, number]),
  }));
  return {
    name: 'throughput',
    title: `One-to-one throughput (${opts.pairs} pairs)`,
    params: { pairs: opts.pairs, stepMs: opts.stepMs, startRate: opts.startRate, workers: opts.workers, synchronous: opts.synchronous.join('+') },
    rows,
    notes,
    series: { title: `One-to-one: offered vs achieved (acked and delivered) msg/s, ${opts.pairs} pairs`, xLabel: 'offered msg/s', yLabel: 'achieved msg/s', lines },
    raw: Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, { ...r }])),
  };
}

// ---- group fan-out ------------------------------------------------------------------------------------------------

async function fanoutScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts, log } = { opts: ctx.opts, log: ctx.opts.log };
  const m = opts.groupMembers;
  const base: ScenarioResult = { name: 'fanout', title: `Group fan-out (one group of ${m.toLocaleString('en-US')} online members)`, params: {}, rows: [], notes: [] };
  let groupId: string | null = null;
  if (opts.targets.includes('kkchat')) {
    const server = await startTarget(ctx, 'kkchat');
    try {
      if (!(await groupsAvailable(server.url, ctx.pool!.users[0].auth.accessToken))) return { ...base, skipped: 'skipped: groups not available' };
      groupId = await createGroup(server.url, ctx.pool!, m);
      log(`  kkchat: group of ${m} members created over the API`);
    } finally {
      await server.stop();
    }
  }
  const senders = Math.min(4, m);
  const spacing = Math.floor(m / senders);
  const per: Record<Target, Record<string, number> | null> = { kkchat: null, ws: null, sio: null };
  const curves: { label: string; points: [number, number][] }[] = [];
  for (const target of opts.targets) {
    const server = await startTarget(ctx, target);
    try {
      const all: ConnSpec[] = Array.from({ length: m }, (_, i) => {
        const sender = i % spacing === 0 && i / spacing < senders;
        if (target === 'kkchat') {
          const u = ctx.pool!.users[i];
          return { id: u.auth.user.id, token: u.auth.accessToken, conversationId: groupId!, peer: sender ? i : -1 };
        }
        return { id: `g${i}`, peer: sender ? i : -1, broadcast: true };
      });
      const conn = await connectAll(ctx, target, server.url, all);
      log(`  ${target}: ${conn.connected} members online in ${(conn.ms / 1000).toFixed(1)} s`);
      await Promise.all(ctx.workers.map((w) => w.call('fanoutTrack', { on: true })));
      // Messages per second into the group (each sender socket stays under KKChat's 40 frames/s).
      const cap = target === 'kkchat' ? KKCHAT_SOCKET_RATE * senders : Number.POSITIVE_INFINITY;
      let rate = Math.max(1, opts.fanoutStartRate);
      const steps: { rate: number; sentPerSec: number; deliveries: number; last: Latency; incomplete: number; total: number }[] = [];
      const step = async (r: number) => {
        const s = await loadStep(ctx, server, r, opts.stepMs);
        const merged = new Map<string, { n: number; max: number }>();
        for (const part of await Promise.all(ctx.workers.map((w) => w.call<[string, number, number][]>('fanoutCollect')))) {
          for (const [text, n, max] of part) {
            const e = merged.get(text);
            if (e) {
              e.n += n;
              e.max = Math.max(e.max, max);
            } else merged.set(text, { n, max });
          }
        }
        const complete = [...merged.values()].filter((e) => e.n >= m - 1);
        const last = latency(complete.map((e) => e.max));
        const row = { rate: r, sentPerSec: s.sent / (opts.stepMs / 1000), deliveries: s.deliveredPerSec, last, incomplete: merged.size - complete.length, total: merged.size };
        log(`  ${target}: ${Math.round(r)} msg/s into the group → ${Math.round(s.deliveredPerSec)} deliveries/s, to the last member p50 ${last.p50.toFixed(1)} / p99 ${last.p99.toFixed(1)} ms, ${row.incomplete} messages not at every member by the end of the step`);
        return row;
      };
      let capped = false;
      for (let i = 0; i < opts.maxSteps; i++) {
        if (rate > cap) {
          rate = cap;
          capped = true;
        }
        const st = await step(rate);
        steps.push(st);
        // Saturation shows as latency (the drain waits for every delivery), so no in-window rate test here: at a
        // few messages per second, one message straddling the window's end is a large fraction of the count.
        const broke = st.incomplete > 0.01 * st.total || st.last.p99 > 1000;
        if (broke || capped) break;
        rate = Math.round(rate * 1.6 * 10) / 10;
      }
      const best = steps.reduce((a, b) => (b.deliveries > a.deliveries ? b : a));
      const half = await step(Math.max(1, best.rate / 2));
      per[target] = {
        members: conn.connected,
        maxDeliveries: best.deliveries,
        msgsAtMax: best.rate,
        p50Half: half.last.p50,
        p99Half: half.last.p99,
        p99AtMax: best.last.p99,
        capped: capped ? 1 : 0,
      };
      curves.push({ label: `${target} deliveries/s`, points: steps.map((x) => [x.rate, x.deliveries] as [number, number]) });
    } finally {
      await Promise.all(ctx.workers.map((w) => w.call('fanoutTrack', { on: false })));
      await closeAll(ctx);
      await server.stop();
    }
  }
  const v = (t: Target, k: string) => per[t]?.[k] ?? null;
  const row = (metric: string, unit: string, better: Row['better'], key: string, digits = 0): Row => ({ metric, unit, better, kkchat: v('kkchat', key), ws: v('ws', key), sio: v('sio', key), digits });
  const notes = [
    `${senders} member sockets send into the group (open loop, rate ×1.6 per ${opts.stepMs} ms step until p99 to the last member passes 1 s or over 1 % of messages miss a member after the step's drain), then one step at half the best rate, every other member receives. Latency "to the last member" is, per message, the latest arrival over all members (clocks compared across worker processes on one machine).`,
    'Relays: everyone connected is the group; the bare ws relay serializes the frame once and sends the same bytes to every socket (like KKChat\'s gateway); the Socket.IO relay uses socket.broadcast.emit.',
  ];
  if (per.kkchat?.capped) notes.push(`KKChat stopped at its per-socket frame budget (${KKCHAT_SOCKET_RATE}/s × ${senders} senders), not at saturation.`);
  return {
    ...base,
    params: { members: m, senders, stepMs: opts.stepMs, workers: opts.workers },
    rows: [
      row('members online', 'sockets', 'higher', 'members'),
      row('max deliveries', 'deliveries/s', 'higher', 'maxDeliveries'),
      row('messages into the group at that rate', 'msg/s', 'higher', 'msgsAtMax', 1),
      row('to the last member p50 at 50% of max', 'ms', 'lower', 'p50Half', 1),
      row('to the last member p99 at 50% of max', 'ms', 'lower', 'p99Half', 1),
      row('to the last member p99 at max', 'ms', 'lower', 'p99AtMax', 1),
    ],
    notes,
    series: { title: `Group fan-out, ${m} members: messages/s into the group vs deliveries/s`, xLabel: 'messages/s into the group', yLabel: 'deliveries/s', lines: curves },
    raw: per,
  };
}

/** Groups are available when the server answers something other than 404 on the group routes. */
async function groupsAvailable(url: string, token: string): Promise<boolean> {
  const res = await fetch(`${url}/api/v1/groups`, { headers: { authorization: `Bearer ${token}`, connection: 'close' } });
  await res.text();
  return res.status !== 404;
}

/** One open group: user 0 creates it, opens it to anyone with the invite link, and users 1..m-1 join. */
async function createGroup(url: string, pool: Pool, m: number): Promise<string> {
  const owner = pool.users[0].auth.accessToken;
  const call = async <T>(method: string, path: string, token: string, body: unknown): Promise<T> => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const created = await call<{ conversation: { id: string } }>('POST', '/groups', owner, { name: 'bench fan-out' });
  const id = created.conversation.id;
  await call('PATCH', `/groups/${id}`, owner, { joinMode: 'open' });
  const { link } = await call<{ link: { code: string } }>('POST', `/groups/${id}/invite-link`, owner, {});
  let next = 1;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < m) {
        const i = next++;
        await call('POST', `/groups/invites/${link.code}/join`, pool.users[i].auth.accessToken, {});
      }
    }),
  );
  return id;
}

// ---- reconnect storm ------------------------------------------------------------------------------------------------

async function stormScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts, log } = { opts: ctx.opts, log: ctx.opts.log };
  const n = opts.stormClients - (opts.stormClients % 2);
  const per: Record<Target, Record<string, number> | null> = { kkchat: null, ws: null, sio: null };
  for (const target of opts.targets) {
    const server = await startTarget(ctx, target);
    try {
      if (target === 'kkchat') {
        const pool = ctx.pool!;
        const users = Array.from({ length: n }, (_, i) => ({ auth: pool.users[i].auth, conversationId: pool.conversations[Math.floor(i / 2)] }));
        const parts = chunks(users, ctx.workers.length, 2);
        const t0 = Date.now();
        const connected = await Promise.all(
          parts.map((part, w) => ctx.workers[w].call<{ connected: number; failed: number }>('stormConnect', { url: server.url, users: part, addresses: ADDRESSES, concurrency: 100 })),
        );
        log(`  kkchat: ${connected.reduce((a, c) => a + c.connected, 0)} SDK clients online and synced in ${((Date.now() - t0) / 1000).toFixed(1)} s; dropping all sockets...`);
        const sent = await Promise.all(
          ctx.workers.map((w) => w.call<{ sent: number; sendErrors: number; sendMs: number }>('stormDrop', { url: server.url, perConversation: opts.stormMessages, concurrency: 32 })),
        );
        const waited = await Promise.all(ctx.workers.map((w) => w.call<Record<string, number>>('stormWait', { timeoutMs: 120_000 })));
        const total = Math.max(...waited.map((r) => r.caughtUpMs ?? Number.NaN));
        const sum = (k: string) => waited.reduce((a, r) => a + (r[k] ?? 0), 0);
        per.kkchat = {
          clients: sum('clients'),
          online: sum('online'),
          reconnectMs: Math.max(...waited.map((r) => r.allOnlineMs ?? Number.NaN)),
          caughtUpMs: total,
          messagesSent: sent.reduce((a, s) => a + s.sent, 0),
          sendMs: Math.max(...sent.map((s) => s.sendMs)),
          sendErrors: sent.reduce((a, s) => a + s.sendErrors, 0),
          delivered: sum('delivered'),
          missing: sum('missing'),
          duplicated: sum('duplicated'),
          unexpected: sum('unexpected'),
        };
        log(
          `  kkchat: all online after ${per.kkchat.reconnectMs.toFixed(0)} ms, caught up after ${total} ms (the ${per.kkchat.messagesSent} messages sent during the storm took ${per.kkchat.sendMs.toFixed(0)} ms to store), ${per.kkchat.delivered} received, missing ${per.kkchat.missing}, duplicated ${per.kkchat.duplicated}`,
        );
      } else {
        const conn = await connectAll(ctx, target, server.url, specs(ctx, target, n, false));
        log(`  ${target}: ${conn.connected} connected; dropping all sockets...`);
        const since = Date.now();
        await Promise.all(ctx.workers.map((w) => w.call('dropAll')));
        await sleep(50);
        const waited = await Promise.all(ctx.workers.map((w) => w.call<{ online: number; total: number }>('waitOnline', { timeoutMs: 120_000 })));
        const ms = Date.now() - since;
        per[target] = { clients: conn.connected, online: waited.reduce((a, r) => a + r.online, 0), reconnectMs: ms };
        log(`  ${target}: all reconnected after ${ms} ms`);
      }
    } finally {
      await closeAll(ctx);
      await server.stop();
    }
  }
  const v = (t: Target, k: string) => per[t]?.[k] ?? null;
  const row = (metric: string, unit: string, better: Row['better'], key: string, kkOnly = false): Row => ({
    metric,
    unit,
    better,
    kkchat: v('kkchat', key),
    ws: kkOnly ? null : v('ws', key),
    sio: kkOnly ? null : v('sio', key),
  });
  const kk = per.kkchat;
  return {
    name: 'storm',
    title: `Reconnect storm (${n.toLocaleString('en-US')} clients dropped at once)`,
    params: { clients: n, messagesPerConversation: opts.stormMessages, workers: opts.workers },
    rows: [
      row('clients back online', 'clients', 'higher', 'online'),
      row('time until all reconnected', 'ms', 'lower', 'reconnectMs'),
      row('time until all caught up (synced every missed message)', 'ms', 'lower', 'caughtUpMs', true),
      row('messages sent while the clients were away', 'messages', 'higher', 'messagesSent', true),
      row('time to store them (REST, while reconnecting)', 'ms', 'lower', 'sendMs', true),
      row('missing after catch-up', 'messages', 'lower', 'missing', true),
      row('delivered twice to the app', 'messages', 'lower', 'duplicated', true),
    ],
    notes: [
      'Every client socket is terminated at the same instant (no closing handshake, like a network loss). KKChat clients are full SDK clients (KKChatClient) that reconnect with backoff (full jitter from 500 ms) and sync each conversation from their cursor.',
      `While they are away and reconnecting, ${opts.stormMessages} messages per conversation are sent over REST as its members; "caught up" means every client holds every seq of its conversation exactly once (checked per conversation: seqs base+1..last, no gaps, no repeats).`,
      kk
        ? `Proof: ${kk.messagesSent} messages sent (${kk.sendErrors} send errors), ${kk.delivered} message events across both members, ${kk.missing} missing, ${kk.duplicated} duplicated, ${kk.unexpected} outside the expected range.`
        : 'KKChat not run.',
      'The relays have no persistence or sync: their clients only reconnect; messages sent while a client is away are lost by design, so "caught up" does not apply.',
    ],
    raw: per,
  };
}

// ---- history pages and logins ---------------------------------------------------------------------------------------

async function httpScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts, log } = { opts: ctx.opts, log: ctx.opts.log };
  const base: ScenarioResult = { name: 'http', title: 'History pages and logins', params: {}, rows: [], notes: [] };
  if (!opts.targets.includes('kkchat')) return { ...base, skipped: 'skipped: needs the kkchat target' };
  const pool = ctx.pool!;
  const server = await startTarget(ctx, 'kkchat');
  const out: Record<string, { rps: number; lat: Latency; ok: number; failed: number; clientCpuPct: number; serverCpuPct: number; serverCpuUsPerReq: number }> = {};
  try {
    // Give the first conversations a history to page through (200 messages each over REST).
    const convs = Math.min(50, pool.conversations.length);
    const perConv = opts.historyMessages;
    await Promise.all(
      Array.from({ length: convs }, async (_, c) => {
        const u = pool.users[2 * c];
        for (let k = 0; k < perConv; k++) {
          await fetch(`${server.url}/api/v1/conversations/${pool.conversations[c]}/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${u.auth.accessToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ clientMsgId: `hist-${Date.now()}-${c}-${k}`, kind: 'text', text: `history message ${k} `.repeat(4) }),
          }).then((r) => r.text());
        }
      }),
    );
    for (const kind of ['history', 'login'] as const) {
      const items: { auth?: AuthResult; conversationId?: string; username?: string; password?: string }[] =
        kind === 'history'
          ? Array.from({ length: convs * 2 }, (_, i) => ({ auth: pool.users[i].auth, conversationId: pool.conversations[Math.floor(i / 2)] }))
          : pool.users.slice(0, Math.min(pool.users.length, 500)).map((u) => ({ username: u.username, password: u.password }));
      const parts = chunks(items, ctx.workers.length);
      const c0 = cpuMs(server.pid);
      const t0 = Date.now();
      const res = await Promise.all(
        parts.map((part, w) =>
          ctx.workers[w].call<{ ok: number; failed: number; elapsedMs: number; lat: number[]; cpuMs: number }>('httpLoad', {
            url: server.url,
            kind,
            durationMs: opts.httpMs,
            concurrency: kind === 'history' ? 32 : 8,
            items: part,
          }),
        ),
      );
      const elapsed = Date.now() - t0;
      const serverCpu = cpuMs(server.pid) - c0;
      const ok = res.reduce((a, r) => a + r.ok, 0);
      out[kind] = {
        rps: ok / (Math.max(...res.map((r) => r.elapsedMs)) / 1000),
        lat: latency(res.flatMap((r) => r.lat)),
        ok,
        failed: res.reduce((a, r) => a + r.failed, 0),
        clientCpuPct: (res.reduce((a, r) => a + r.cpuMs, 0) / elapsed) * 100,
        serverCpuPct: (serverCpu / elapsed) * 100,
        serverCpuUsPerReq: (serverCpu * 1000) / Math.max(1, ok),
      };
      log(`  ${kind}: ${out[kind].rps.toFixed(0)} req/s, p50 ${out[kind].lat.p50.toFixed(1)} ms, p99 ${out[kind].lat.p99.toFixed(1)} ms, ${out[kind].failed} failed`);
    }
  } finally {
    await server.stop();
  }
  const row = (metric: string, unit: string, better: Row['better'], v: number, digits = 0): Row => ({ metric, unit, better, kkchat: v, ws: null, sio: null, digits });
  return {
    name: 'http',
    title: 'History pages and logins (KKChat only)',
    params: { durationMs: opts.httpMs, historyConcurrency: 32 * opts.workers, loginConcurrency: 8 * opts.workers, pageSize: 50 },
    rows: [
      row('history pages', 'req/s', 'higher', out.history.rps),
      row('history page latency p50', 'ms', 'lower', out.history.lat.p50, 1),
      row('history page latency p99', 'ms', 'lower', out.history.lat.p99, 1),
      row('server CPU per history page', 'µs', 'lower', out.history.serverCpuUsPerReq),
      row('server CPU during history load', '% of a core', 'lower', out.history.serverCpuPct),
      row('logins', 'req/s', 'higher', out.login.rps),
      row('login latency p50', 'ms', 'lower', out.login.lat.p50, 1),
      row('login latency p99', 'ms', 'lower', out.login.lat.p99, 1),
      row('server CPU per login', 'µs', 'lower', out.login.serverCpuUsPerReq),
      row('server CPU during logins', '% of a core', 'lower', out.login.serverCpuPct),
    ],
    notes: [
      `Closed loop through the SDK's HttpClient (validation off). History: the newest page of 50 from conversations with ${opts.historyMessages}+ messages. Login: argon2id (19 MiB, t=2) verification, so logins are CPU-bound by design.`,
      'The relays have no history and no accounts: no baseline.',
      `Failures: history ${out.history.failed}, login ${out.login.failed}.`,
    ],
    raw: out,
  };
}

const SCENARIOS: Record<Scenario, (ctx: Ctx) => Promise<ScenarioResult>> = {
  idle: idleScenario,
  throughput: throughputScenario,
  fanout: fanoutScenario,
  storm: stormScenario,
  http: httpScenario,
};
