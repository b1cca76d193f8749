import { sleep, type Target } from '../procs.js';
import type { Row, ScenarioResult } from '../report.js';
import { ADDRESSES, chunks, closeAll, connectAll, specs, startTarget, type Ctx } from './common.js';

// ---- reconnect storm ------------------------------------------------------------------------------------------------

export async function stormScenario(ctx: Ctx): Promise<ScenarioResult> {
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
