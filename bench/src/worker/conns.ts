/** Connections for the idle, throughput and fan-out scenarios and the relays' reconnect storm: connect, open-loop load, drop. */
import { performance } from 'node:perf_hooks';
import { openKKChat, openSio, openWs, type Conn, type ConnSpec, type Target } from './clients.js';
import { errorCodes, now, stats } from './measure.js';

let conns: Conn[] = [];
let target: Target = 'kkchat';

export async function connect(args: { target: Target; url: string; specs: ConnSpec[]; addresses: string[]; concurrency: number }) {
  target = args.target;
  const started = performance.now();
  const list: Conn[] = new Array(args.specs.length);
  let nextIndex = 0;
  let failed = 0;
  const runOne = async (): Promise<void> => {
    while (nextIndex < args.specs.length) {
      const i = nextIndex++;
      const spec = args.specs[i];
      const addr = args.addresses[i % args.addresses.length];
      const peerId = () => (spec.peer >= 0 ? args.specs[spec.peer].id : spec.id);
      try {
        list[i] =
          target === 'kkchat'
            ? await openKKChat(args.url, spec, addr)
            : target === 'ws'
              ? await openWs(args.url, spec, addr, peerId)
              : await openSio(args.url, spec, addr, peerId);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.specs.length) }, runOne));
  conns.push(...list.filter(Boolean));
  return { ms: performance.now() - started, connected: conns.length, failed };
}

/** Closes every connection opened by connect. */
export function closeConns(): void {
  for (const c of conns) c.close();
  conns = [];
}


/**
 * Open-loop load: every connection with a peer sends at ratePerSec / senders, in 10 ms ticks, for durationMs.
 * Counts acks and deliveries that arrive inside the window, then waits (up to drainMs) for the rest.
 */
export async function load(args: { ratePerSec: number; durationMs: number; drainMs: number }) {
  const senders = conns.filter((c) => c.spec.peer >= 0 && c.online);
  const base = { sent: stats.sent, acked: stats.acked, delivered: stats.delivered, errors: stats.errors };
  stats.ackLat = [];
  stats.delLat = [];
  stats.counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let owed = 0;
  let cursor = 0;
  await new Promise<void>((done) => {
    let last = t0;
    const timer = setInterval(() => {
      const tick = performance.now();
      const end = Math.min(tick, t0 + args.durationMs);
      owed += ((end - last) / 1000) * args.ratePerSec;
      last = end;
      while (owed >= 1 && senders.length > 0) {
        const c = senders[cursor++ % senders.length];
        if (c.online) {
          c.send(now().toFixed(3));
          stats.sent++;
        }
        owed--;
      }
      if (tick >= t0 + args.durationMs) {
        clearInterval(timer);
        done();
      }
    }, 10);
  });
  const windowMs = performance.now() - t0;
  const inWindow = { acked: stats.acked - base.acked, delivered: stats.delivered - base.delivered };
  const sent = stats.sent - base.sent;
  const drainStart = performance.now();
  while (performance.now() - drainStart < args.drainMs) {
    if (stats.acked - base.acked >= sent && stats.delivered - base.delivered >= sent) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  stats.counting = false;
  const cpu = process.cpuUsage(cpu0);
  return {
    windowMs,
    sent,
    ackedInWindow: inWindow.acked,
    deliveredInWindow: inWindow.delivered,
    ackedTotal: stats.acked - base.acked,
    deliveredTotal: stats.delivered - base.delivered,
    errors: stats.errors - base.errors,
    errorCodes: Object.fromEntries(errorCodes),
    drainMs: performance.now() - drainStart,
    ackLat: stats.ackLat,
    delLat: stats.delLat,
    cpuMs: (cpu.user + cpu.system) / 1000,
    elapsedMs: performance.now() - t0,
  };
}

export async function dropAll() {
  for (const c of conns) c.drop();
  return { dropped: conns.length };
}

export async function waitOnline(args: { timeoutMs: number }) {
  const t0 = performance.now();
  while (performance.now() - t0 < args.timeoutMs) {
    if (conns.every((c) => c.online)) return { ms: performance.now() - t0, online: conns.length, total: conns.length };
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ms: performance.now() - t0, online: conns.filter((c) => c.online).length, total: conns.length };
}
