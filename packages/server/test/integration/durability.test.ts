import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, befriend, history, RawSocket, range, registerUser, restSend, wsSend, type User } from '../support/helpers.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_DIR = resolve(here, '../..');

/** The child-process server runs the build; the test script builds first, this covers a direct vitest run. */
function ensureBuilt(): void {
  if (!existsSync(resolve(SERVER_DIR, 'dist/main.js'))) {
    execSync('npx tsc -b packages/server', { cwd: resolve(SERVER_DIR, '../..'), stdio: 'inherit' });
  }
}

/** The parts of a TestServer that the shared helpers use. */
const target = (proc: ServerProcess) => ({ url: proc.url, wsUrl: `${proc.url.replace('http', 'ws')}/ws` }) as never;

describe('crash safety (kill -9)', () => {
  let proc: ServerProcess;
  let a: User;
  let b: User;
  let conversationId: string;

  beforeAll(async () => {
    ensureBuilt();
    proc = await startServerProcess({
      env: { KKCHAT_REGISTER_MAX_PER_IP: '1000', KKCHAT_SEND_MAX_PER_10S: '100000', KKCHAT_LOG_LEVEL: 'warn' },
    });
    a = await registerUser(proc.url, 'dura');
    b = await registerUser(proc.url, 'durb');
    conversationId = await befriend(proc.url, a, b);
  }, 60_000);
  afterAll(async () => {
    await proc?.stop();
  });

  it('every acked message survives SIGKILL with its seq; sends continue at the next seq; an offline client catches up', async () => {
    // B reads the first 5, then goes offline.
    const server = target(proc);
    for (let i = 1; i <= 5; i++) expect((await restSend(server, a, conversationId, `early ${i}`)).status).toBe(201);
    const bCursor = 5;
    await api(proc.url, 'POST', `/conversations/${conversationId}/read`, { token: b.accessToken, body: { seq: bCursor } });

    // B is online on another device when the server crashes (BR-34: it must not come back "online").
    const bSocket = await RawSocket.connect(`${proc.url.replace('http', 'ws')}/ws`, b.accessToken);
    const online = await api<{ contacts: { presence: { online: boolean } }[] }>(proc.url, 'GET', '/contacts', { token: a.accessToken });
    expect(online.body.contacts.map((c) => c.presence.online)).toEqual([true]);

    // A sends over WS and REST; remember every ack.
    const acked = new Map<number, Message>();
    const socket = await RawSocket.connect(`${proc.url.replace('http', 'ws')}/ws`, a.accessToken);
    const pending: Promise<void>[] = [];
    for (let i = 1; i <= 40; i++) {
      if (i % 2 === 0) {
        pending.push(
          wsSend(socket, conversationId, `ws ${i}`, `dur-ws-${i}`).then((f) => {
            if (f.type === 'ack') acked.set(f.message.seq, f.message);
          }),
        );
      } else {
        pending.push(
          restSend(server, a, conversationId, `rest ${i}`, `dur-rest-${i}`).then((r) => {
            if (r.status === 201) acked.set(r.body.message.seq, r.body.message);
          }),
        );
      }
    }
    await Promise.all(pending);
    expect(acked.size).toBe(40);
    expect([...acked.keys()].sort((x, y) => x - y)).toEqual(range(6, 45));

    // Sends in flight at the moment of the crash: whatever was acked must survive.
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      inFlight.push(
        restSend(server, a, conversationId, `in flight ${i}`, `dur-flight-${i}`)
          .then((r) => {
            if (r.status === 201) acked.set(r.body.message.seq, r.body.message);
          })
          .catch(() => undefined),
      );
    }
    await proc.kill('SIGKILL');
    await Promise.all(inFlight);
    await socket.waitClosed(10_000);

    await proc.restart();
    const restarted = target(proc);

    // Everything acked is there, unchanged, and the history has no gaps.
    const all: Message[] = [];
    for (let after = 0; ; ) {
      const page = await history(restarted, b, conversationId, `after=${after}&limit=100`);
      expect(page.status).toBe(200);
      all.push(...page.body.messages);
      if (!page.body.hasMore) break;
      after = page.body.messages.at(-1)!.seq;
    }
    expect(all.map((m) => m.seq)).toEqual(range(1, all.length));
    const bySeq = new Map(all.map((m) => [m.seq, m]));
    for (const [seq, message] of acked) expect(bySeq.get(seq)).toEqual(message);
    const lastSeq = all.length;

    // A retry of an acked message after the restart is still recognised.
    const retried = await restSend(restarted, a, conversationId, 'ws 2', 'dur-ws-2');
    expect(retried.status).toBe(200);
    expect(retried.body.message).toEqual(acked.get(retried.body.message.seq));

    // New sends continue at the next seq.
    const next = await restSend(restarted, a, conversationId, 'after restart', 'dur-after');
    expect(next.status).toBe(201);
    expect(next.body.message.seq).toBe(lastSeq + 1);
    const reconnected = await RawSocket.connect(`${proc.url.replace('http', 'ws')}/ws`, a.accessToken);
    const viaWs = await wsSend(reconnected, conversationId, 'ws after restart', 'dur-after-ws');
    expect(viaWs).toMatchObject({ type: 'ack', message: { seq: lastSeq + 2 } });
    reconnected.close();

    // B was offline throughout: catching up from its cursor gets everything after it, in order.
    const missed: Message[] = [];
    for (let after = bCursor; ; ) {
      const page = await history(restarted, b, conversationId, `after=${after}`);
      missed.push(...page.body.messages);
      if (!page.body.hasMore) break;
      after = page.body.messages.at(-1)!.seq;
    }
    expect(missed.map((m) => m.seq)).toEqual(range(bCursor + 1, lastSeq + 2));
    const summary = await api<{ conversations: { id: string; unreadCount: number; readSeq: number }[] }>(
      proc.url,
      'GET',
      '/conversations',
      { token: b.accessToken },
    );
    expect(summary.body.conversations.find((c) => c.id === conversationId)).toMatchObject({
      readSeq: bCursor,
      unreadCount: lastSeq + 2 - bCursor,
    });
    // Sessions survived the crash too: the old tokens still work.
    expect((await api(proc.url, 'GET', '/users/me', { token: a.accessToken })).status).toBe(200);
    // Presence did not: B's socket died with the old process and B is shown offline.
    await bSocket.waitClosed(10_000);
    const after = await api<{ contacts: { presence: { online: boolean } }[] }>(proc.url, 'GET', '/contacts', { token: a.accessToken });
    expect(after.body.contacts.map((c) => c.presence.online)).toEqual([false]);
  });
});
