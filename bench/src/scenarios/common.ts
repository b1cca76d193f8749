/** What every scenario shares: the run's context, starting a target, and spreading connections over the workers. */
import { startKKChat, startRelay, type ServerHandle, type Target, type Worker } from '../procs.js';
import type { Pool } from '../seed.js';
import type { BenchOptions } from '../options.js';
import type { ConnSpec } from '../worker/clients.js';

/** Client sockets are spread over these source addresses to get past one address's ephemeral-port range. */
export const ADDRESSES = Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 1}`);
/** KKChat allows 400 frames per socket per 10 s (not configurable); stay under it. */
export const KKCHAT_SOCKET_RATE = 35;

export interface Ctx {
  opts: BenchOptions;
  workers: Worker[];
  pool: Pool | null;
  kkDataDir: string | null;
  /** In cluster mode: the cluster, up for the whole run (its handle's stop() leaves it running). */
  cluster: ServerHandle | null;
}

export function isCluster(ctx: Ctx): boolean {
  return ctx.opts.mode === 'cluster';
}

export async function startTarget(ctx: Ctx, target: Target, synchronous: 'FULL' | 'NORMAL' = ctx.opts.synchronous[0]): Promise<ServerHandle> {
  if (target === 'kkchat' && ctx.cluster) return ctx.cluster;
  if (target === 'kkchat') return startKKChat({ dataDir: ctx.kkDataDir!, heartbeatMs: ctx.opts.heartbeatMs, synchronous });
  return startRelay(target, ctx.opts.heartbeatMs);
}

/** Splits items into one contiguous chunk per worker (pairs never straddle two workers). */
export function chunks<T>(items: T[], n: number, unit = 1): T[][] {
  const units = Math.ceil(items.length / unit);
  const per = Math.ceil(units / n);
  return Array.from({ length: n }, (_, i) => items.slice(i * per * unit, (i + 1) * per * unit));
}

/** Connection specs for `count` sockets; with pairs, socket 2i sends to 2i+1 and back. */
export function specs(ctx: Ctx, target: Target, count: number, paired: boolean): ConnSpec[] {
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
export async function connectAll(ctx: Ctx, target: Target, url: string, all: ConnSpec[]): Promise<{ ms: number; connected: number; failed: number }> {
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

export async function closeAll(ctx: Ctx): Promise<void> {
  await Promise.all(ctx.workers.map((w) => w.call('closeAll')));
}

export async function workersCpu(ctx: Ctx): Promise<number> {
  const r = await Promise.all(ctx.workers.map((w) => w.call<{ cpuMs: number }>('cpu')));
  return r.reduce((n, x) => n + x.cpuMs, 0);
}

export const KIB = 1024;
export const MIB = 1024 * 1024;
