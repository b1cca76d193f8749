import { describe, expect, it, vi } from 'vitest';
import type { ConversationSummary, HistoryQuery, HistoryResponse, Message } from '@kkchat/protocol';
import { SyncEngine, type HistoryUnavailable } from './sync.js';
import { buildMessage, historyPage, seededRandom, sleep } from './testing/factories.js';

/** A server-side message store per conversation, and a SyncEngine wired to it. */
function setup(opts: { historyDelayMs?: number } = {}) {
  const store = new Map<string, Message[]>();
  const emitted: Message[] = [];
  const unavailable: HistoryUnavailable[] = [];
  const historyCalls: Array<{ id: string } & HistoryQuery> = [];
  let failNextHistory = 0;
  let listGate: Promise<void> = Promise.resolve();
  const messagesOf = (id: string): Message[] => {
    let list = store.get(id);
    if (!list) store.set(id, (list = []));
    return list;
  };
  const add = (id: string, count: number): Message[] => {
    const list = messagesOf(id);
    const added: Message[] = [];
    for (let i = 0; i < count; i++) {
      const m = buildMessage(id, list.length + 1);
      list.push(m);
      added.push(m);
    }
    return added;
  };
  const engine = new SyncEngine({
    async listConversations() {
      await listGate;
      return [...store.keys()].map((id) => ({ id, lastSeq: messagesOf(id).length }) as ConversationSummary);
    },
    async history(id, query): Promise<HistoryResponse> {
      historyCalls.push({ id, ...query });
      if (opts.historyDelayMs) await sleep(opts.historyDelayMs);
      else await Promise.resolve();
      if (failNextHistory > 0) {
        failNextHistory--;
        throw new Error('network down');
      }
      return historyPage(messagesOf(id), query.after ?? 0, query.limit ?? 50);
    },
    onMessage: (m) => emitted.push(m),
    onConversations: () => undefined,
    onHistoryUnavailable: (info) => unavailable.push(info),
    gapFillDelayMs: 0,
    retryDelay: () => 1,
  });
  return {
    engine,
    store,
    add,
    emitted,
    unavailable,
    historyCalls,
    seqs: (id: string) => emitted.filter((m) => m.conversationId === id).map((m) => m.seq),
    failHistory: (n: number) => (failNextHistory = n),
    gateList: (gate: Promise<void>) => (listGate = gate),
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SyncEngine live messages', () => {
  it('emits the next seq, drops duplicates and old seqs', () => {
    const t = setup();
    const [m1, m2, m3] = t.add('c1', 3) as [Message, Message, Message];
    t.engine.track('c1', 0);
    t.engine.handleLive(m1);
    t.engine.handleLive(m2);
    t.engine.handleLive(m2);
    t.engine.handleLive(m1);
    t.engine.handleLive(m3);
    expect(t.seqs('c1')).toEqual([1, 2, 3]);
    expect(t.engine.cursor('c1')).toBe(3);
    expect(t.historyCalls).toHaveLength(0);
  });

  it('fills a gap from history and emits in seq order, each seq once', async () => {
    const t = setup();
    const all = t.add('c1', 6);
    t.engine.track('c1', 1);
    t.engine.handleLive(all[4] as Message); // seq 5 arrives; 2..4 were lost
    expect(t.seqs('c1')).toEqual([]);
    await vi.waitFor(() => expect(t.seqs('c1')).toEqual([2, 3, 4, 5, 6]));
    expect(t.historyCalls).toEqual([{ id: 'c1', after: 1, limit: 100 }]);
    t.engine.handleLive(all[5] as Message); // the late push of 6 is a duplicate now
    t.engine.handleLive(all[2] as Message);
    expect(t.seqs('c1')).toEqual([2, 3, 4, 5, 6]);
  });

  it('does not pull when the missing frame is merely late (reordered)', async () => {
    const t = setup();
    const all = t.add('c1', 3);
    t.engine.track('c1', 0);
    t.engine.handleLive(all[0] as Message);
    t.engine.handleLive(all[2] as Message);
    t.engine.handleLive(all[1] as Message); // arrives before the gap timer fires
    expect(t.seqs('c1')).toEqual([1, 2, 3]);
    await sleep(5);
    expect(t.historyCalls).toHaveLength(0);
  });

  it('starts tracking an untracked conversation at the first live message', () => {
    const t = setup();
    const all = t.add('c9', 12);
    t.engine.handleLive(all[9] as Message);
    expect(t.seqs('c9')).toEqual([10]);
    expect(t.engine.cursor('c9')).toBe(10);
    t.engine.handleLive(all[10] as Message);
    t.engine.handleLive(all[9] as Message);
    expect(t.seqs('c9')).toEqual([10, 11]);
    expect(t.historyCalls).toHaveLength(0); // older history is the app's job
  });

  it('track() never moves a cursor back, and drops pending messages it covers', async () => {
    const t = setup();
    const all = t.add('c1', 8);
    t.engine.track('c1', 5);
    t.engine.track('c1', 2);
    expect(t.engine.cursor('c1')).toBe(5);
    t.engine.handleLive(all[0] as Message);
    expect(t.seqs('c1')).toEqual([]);
    t.engine.track('c1', 8);
    t.engine.handleLive(all[7] as Message);
    await sleep(5);
    expect(t.seqs('c1')).toEqual([]);
  });

  it('retries a gap fill that failed', async () => {
    const t = setup();
    const all = t.add('c1', 4);
    t.engine.track('c1', 0);
    t.failHistory(2);
    t.engine.handleLive(all[3] as Message);
    await vi.waitFor(() => expect(t.seqs('c1')).toEqual([1, 2, 3, 4]));
    expect(t.historyCalls.length).toBe(3);
  });

  it('skips explicitly what the server can no longer replay', async () => {
    const t = setup();
    const all = t.add('c1', 5);
    t.engine.track('c1', 0);
    const engine = new SyncEngine({
      listConversations: async () => [],
      history: async (_id, q) => ({ ...historyPage(all.slice(3), q.after ?? 0, 100), earliestAvailableSeq: 4, lastSeq: 5 }),
      onMessage: (m) => t.emitted.push(m),
      onConversations: () => undefined,
      onHistoryUnavailable: (info) => t.unavailable.push(info),
      gapFillDelayMs: 0,
    });
    engine.track('c1', 0);
    engine.handleLive(all[4] as Message);
    await vi.waitFor(() => expect(t.seqs('c1')).toEqual([4, 5]));
    expect(t.unavailable).toEqual([{ conversationId: 'c1', fromSeq: 1, toSeq: 3 }]);
  });
});

describe('SyncEngine.run (after reconnect)', () => {
  it('pulls every tracked conversation that is behind, paging while hasMore', async () => {
    const t = setup();
    t.add('c1', 250);
    t.add('c2', 3);
    t.add('c3', 7); // untracked: not pulled
    t.engine.track('c1', 0);
    t.engine.track('c2', 3);
    await t.engine.run();
    expect(t.seqs('c1')).toEqual(range(1, 250));
    expect(t.seqs('c2')).toEqual([]);
    expect(t.seqs('c3')).toEqual([]);
    expect(t.historyCalls.map((c) => [c.id, c.after])).toEqual([
      ['c1', 0],
      ['c1', 100],
      ['c1', 200],
    ]);
  });

  it('buffers live messages during the sync and applies them after the pull, without duplicates', async () => {
    const t = setup({ historyDelayMs: 2 });
    t.add('c1', 5);
    t.engine.track('c1', 2);
    let release!: () => void;
    t.gateList(new Promise<void>((resolve) => (release = resolve)));
    const running = t.engine.run();
    expect(t.engine.isSyncing).toBe(true);
    // Live frames while syncing: a duplicate of a message the pull will bring, and two new ones.
    const [m6, m7] = t.add('c1', 2) as [Message, Message];
    t.engine.handleLive(m7);
    t.engine.handleLive(t.store.get('c1')?.[3] as Message);
    t.engine.handleLive(m6);
    expect(t.emitted).toEqual([]);
    release();
    await running;
    expect(t.engine.isSyncing).toBe(false);
    expect(t.seqs('c1')).toEqual([3, 4, 5, 6, 7]);
  });

  it('a sync overtaken by a newer one does not release the buffer early', async () => {
    const t = setup();
    t.add('c1', 2);
    t.engine.track('c1', 0);
    let release!: () => void;
    t.gateList(new Promise<void>((resolve) => (release = resolve)));
    const first = t.engine.run();
    const second = t.engine.run();
    t.engine.handleLive(t.add('c1', 1)[0] as Message);
    release();
    await Promise.all([first, second]);
    expect(t.seqs('c1')).toEqual([1, 2, 3]);
  });

  it('rejects when a pull fails, keeping the buffer for the next sync', async () => {
    const t = setup();
    t.add('c1', 3);
    t.engine.track('c1', 0);
    t.failHistory(1);
    const failing = t.engine.run();
    t.engine.handleLive(t.add('c1', 1)[0] as Message);
    await expect(failing).rejects.toThrow('network down');
    expect(t.emitted).toEqual([]);
    await t.engine.run();
    expect(t.seqs('c1')).toEqual([1, 2, 3, 4]);
  });
});

describe('SyncEngine invariant', () => {
  // Whatever the network does to live frames (loss, duplication, reordering, a reconnect in the middle), the
  // app ends up with exactly the server's messages, each once, in order (Zulip's verify_action idea).
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`delivers 1..N exactly once under random loss/dup/reorder (seed ${seed})`, async () => {
      const random = seededRandom(seed);
      const t = setup();
      const ids = ['a', 'b', 'c'];
      for (const id of ids) t.engine.track(id, 0);
      const inFlight: Message[] = [];
      for (let step = 0; step < 300; step++) {
        const id = ids[Math.floor(random() * ids.length)] as string;
        const [m] = t.add(id, 1) as [Message];
        if (random() > 0.2) inFlight.push(m); // 20% of pushes are lost
        if (random() < 0.1) inFlight.push(m); // some are duplicated
        if (random() < 0.3 && inFlight.length > 1) inFlight.reverse(); // and reordered
        while (inFlight.length > 0 && random() < 0.5) t.engine.handleLive(inFlight.shift() as Message);
        if (random() < 0.02) await t.engine.run(); // a reconnect
        if (random() < 0.1) await sleep(0);
      }
      for (const m of inFlight) t.engine.handleLive(m);
      await t.engine.run();
      for (const id of ids) {
        await vi.waitFor(() => expect(t.seqs(id)).toEqual(range(1, t.store.get(id)?.length ?? 0)));
      }
    });
  }
});
