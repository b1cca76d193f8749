import type { ServerHandle, Target } from '../procs.js';
import type { Row, ScenarioResult } from '../report.js';
import { closeAll, connectAll, isCluster, KKCHAT_SOCKET_RATE, specs, startTarget, type Ctx } from './common.js';
import { loadStep, type Step } from './step.js';

// ---- one-to-one throughput ----------------------------------------------------------------------------------------

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

export async function throughputScenario(ctx: Ctx): Promise<ScenarioResult> {
  const { opts } = ctx;
  const sockets = 2 * opts.pairs;
  const runs: Record<string, Awaited<ReturnType<typeof rampAndMeasure>>> = {};
  const variants: { key: string; target: Target; sync?: 'FULL' | 'NORMAL' }[] = [];
  for (const target of opts.targets) {
    // In cluster mode the nodes store in PostgreSQL: SQLite's synchronous setting does not apply.
    if (target === 'kkchat' && isCluster(ctx)) variants.push({ key: 'kkchat-cluster', target });
    else if (target === 'kkchat') for (const sync of opts.synchronous) variants.push({ key: `kkchat-${sync}`, target, sync });
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
  const kkKeys = (isCluster(ctx) ? ['kkchat-cluster'] : opts.synchronous.map((s) => `kkchat-${s}`)).filter((k) => runs[k]);
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
    ...(isCluster(ctx)
      ? [{ metric: 'nginx and Kafka CPU at 90% of max', unit: '% of a core', better: 'lower' as const, f: (r: (typeof runs)[string]) => r.at90.infraCpuPct }]
      : []),
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
