import { cpuMsOf, rssAfterGc, sleep, type Target } from '../procs.js';
import type { Row, ScenarioResult } from '../report.js';
import { closeAll, connectAll, KIB, MIB, specs, startTarget, type Ctx } from './common.js';

// ---- idle connections -----------------------------------------------------------------------------------------

export async function idleScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts, log } = { opts: ctx.opts, log: ctx.opts.log };
  const n = opts.idleConnections;
  const per: Record<Target, Record<string, number> | null> = { kkchat: null, ws: null, sio: null };
  for (const target of opts.targets) {
    const server = await startTarget(ctx, target);
    try {
      const rss0 = await rssAfterGc(server.pids);
      const c0 = cpuMsOf(server.pids);
      await sleep(opts.heartbeatMs);
      const emptyCpu = (cpuMsOf(server.pids) - c0) / opts.heartbeatMs;
      log(`  ${target}: empty server ${(rss0 / MIB).toFixed(1)} MiB; connecting ${n} sockets...`);
      const conn = await connectAll(ctx, target, server.url, specs(ctx, target, n, false));
      log(`  ${target}: ${conn.connected} connected (${conn.failed} failed) in ${(conn.ms / 1000).toFixed(1)} s`);
      await sleep(2000);
      const rss1 = await rssAfterGc(server.pids);
      const c1 = cpuMsOf(server.pids);
      const window = 2 * opts.heartbeatMs;
      await sleep(window);
      const busyCpu = (cpuMsOf(server.pids) - c1) / window;
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
