import type { AuthResult } from '@kkchat/protocol';
import { cpuMsOf } from '../procs.js';
import { latency, type Latency, type Row, type ScenarioResult } from '../report.js';
import { chunks, startTarget, type Ctx } from './common.js';

// ---- history pages and logins ---------------------------------------------------------------------------------------

export async function httpScenario(ctx: Ctx): Promise<ScenarioResult> {
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
      const c0 = cpuMsOf(server.pids);
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
      const serverCpu = cpuMsOf(server.pids) - c0;
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
