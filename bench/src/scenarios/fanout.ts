import type { Target } from '../procs.js';
import { latency, type Latency, type Row, type ScenarioResult } from '../report.js';
import type { Pool } from '../seed.js';
import type { ConnSpec } from '../worker/clients.js';
import { closeAll, connectAll, KKCHAT_SOCKET_RATE, startTarget, type Ctx } from './common.js';
import { loadStep } from './step.js';

// ---- group fan-out ------------------------------------------------------------------------------------------------

export async function fanoutScenario(ctx: Ctx): Promise<ScenarioResult> {
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
  const senders = Math.min(opts.fanoutSenders, m);
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
