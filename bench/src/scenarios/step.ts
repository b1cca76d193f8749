/** One open-loop load step across all workers (one-to-one throughput and group fan-out). */
import { cpuMsOf, type ServerHandle } from '../procs.js';
import { latency, type Latency } from '../report.js';
import type { Ctx } from './common.js';

export interface Step {
  rate: number;
  sent: number;
  ackedPerSec: number;
  deliveredPerSec: number;
  achieved: number;
  deliver: Latency;
  ack: Latency;
  errors: number;
  serverCpuPct: number;
  /** nginx and the Kafka broker in cluster mode (0 otherwise). */
  infraCpuPct: number;
  clientCpuPct: number;
  /** Server CPU time per acknowledged message: a figure that competing load on the machine does not inflate. */
  serverCpuUsPerMsg: number;
}

export async function loadStep(ctx: Ctx, server: ServerHandle, rate: number, durationMs: number): Promise<Step> {
  const w = ctx.workers.length;
  const c0 = cpuMsOf(server.pids);
  const i0 = cpuMsOf(server.infraPids);
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
  const serverCpu = cpuMsOf(server.pids) - c0;
  const infraCpu = cpuMsOf(server.infraPids) - i0;
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
    infraCpuPct: (infraCpu / elapsed) * 100,
    clientCpuPct: (parts.reduce((n, p) => n + p.cpuMs, 0) / elapsed) * 100,
    serverCpuUsPerMsg: (serverCpu * 1000) / Math.max(1, parts.reduce((n, p) => n + p.ackedTotal, 0)),
  };
}
