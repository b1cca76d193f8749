import { describe, expect, it, vi } from 'vitest';
import type { Message } from '@kkchat/protocol';
import { Outbox, type OutboxEntry, type SendFrame } from './outbox.js';
import { ApiError } from './errors.js';
import { buildMessage } from './testing/factories.js';

function setup(opts: { ackTimeoutMs?: number } = {}) {
  const sent: SendFrame[] = [];
  const updates: OutboxEntry[] = [];
  let online = true;
  let rid = 0;
  let seq = 0;
  const outbox = new Outbox({
    canSend: () => online,
    transmit: (frame) => sent.push(frame),
    nextRid: () => `r${++rid}`,
    onUpdate: (entry) => updates.push(entry),
    ackTimeoutMs: opts.ackTimeoutMs ?? 10_000,
    retryDelay: () => 1,
  });
  /** The server's ack for a transmitted frame. */
  const ackOf = (frame: SendFrame): Message =>
    buildMessage(frame.conversationId, ++seq, { clientMsgId: frame.clientMsgId, senderId: 'me', text: frame.kind === 'text' ? frame.text : '' });
  return {
    outbox,
    sent,
    updates,
    ackOf,
    setOnline: (value: boolean) => (online = value),
    texts: () => sent.map((f) => (f.kind === 'text' ? f.text : '')),
  };
}

describe('Outbox', () => {
  it('sends one entry per conversation at a time, in order, and forgets entries once acknowledged', () => {
    const t = setup();
    t.outbox.add('c1', 'one', 'id1');
    t.outbox.add('c1', 'two', 'id2');
    t.outbox.add('c2', 'other', 'id3');
    expect(t.texts()).toEqual(['one', 'other']); // c1's second waits for the first ack
    expect(t.outbox.handleAck(t.ackOf(t.sent[0] as SendFrame))).toBe(true);
    expect(t.texts()).toEqual(['one', 'other', 'two']);
    expect(t.outbox.list().map((e) => e.clientMsgId)).toEqual(['id2', 'id3']);
    const sentUpdate = t.updates.find((u) => u.clientMsgId === 'id1' && u.state === 'sent');
    expect(sentUpdate?.message?.seq).toBe(1);
  });

  it('waits while offline and sends after resume()', () => {
    const t = setup();
    t.setOnline(false);
    const entry = t.outbox.add('c1', 'hello', 'id1');
    expect(entry.state).toBe('sending');
    expect(t.sent).toHaveLength(0);
    t.setOnline(true);
    t.outbox.resume();
    expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1']);
  });

  it('resends with the same clientMsgId when no ack comes in time', async () => {
    const t = setup({ ackTimeoutMs: 5 });
    t.outbox.add('c1', 'hello', 'id1');
    await vi.waitFor(() => expect(t.sent.length).toBeGreaterThanOrEqual(2));
    expect(new Set(t.sent.map((f) => f.clientMsgId))).toEqual(new Set(['id1']));
    expect(new Set(t.sent.map((f) => f.rid)).size).toBe(t.sent.length);
    expect(t.outbox.list()[0]?.attempts).toBe(t.sent.length);
  });

  it('after a dropped socket resends the same id, and a late ack of the first attempt still settles it', () => {
    const t = setup();
    t.outbox.add('c1', 'hello', 'id1');
    t.outbox.add('c1', 'again', 'id2');
    const first = t.sent[0] as SendFrame;
    t.setOnline(false);
    t.outbox.suspend();
    t.setOnline(true);
    t.outbox.resume();
    expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1', 'id1']);
    t.outbox.handleAck(t.ackOf(first)); // matched by clientMsgId, not by rid
    expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1', 'id1', 'id2']);
    expect(t.outbox.list().map((e) => e.clientMsgId)).toEqual(['id2']);
  });

  it('marks an entry failed on a permanent error, keeps going, and retry() requeues it behind the rest', () => {
    const t = setup();
    t.outbox.add('c1', 'a', 'id1');
    t.outbox.add('c1', 'b', 'id2');
    const handled = t.outbox.handleError((t.sent[0] as SendFrame).rid, ApiError.of('NOT_FRIENDS'));
    expect(handled).toBe(true);
    expect(t.outbox.list('c1').map((e) => [e.clientMsgId, e.state, e.error?.code])).toEqual([
      ['id1', 'failed', 'NOT_FRIENDS'],
      ['id2', 'sending', undefined],
    ]);
    expect(t.texts()).toEqual(['a', 'b']);
    t.outbox.retry('id1');
    expect(t.texts()).toEqual(['a', 'b']); // b is in flight; a waits behind it
    t.outbox.handleAck(t.ackOf(t.sent[1] as SendFrame));
    expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1', 'id2', 'id1']);
    expect(t.outbox.list()[0]?.state).toBe('sending');
  });

  it('pauses the conversation for retryAfterMs on RATE_LIMITED, then resends the same entry first', () => {
    vi.useFakeTimers();
    try {
      const t = setup();
      t.outbox.add('c1', 'a', 'id1');
      t.outbox.add('c1', 'b', 'id2');
      const limited = new ApiError('RATE_LIMITED', 'slow down', 429, { retryAfterMs: 2_000 });
      t.outbox.handleError((t.sent[0] as SendFrame).rid, limited);
      vi.advanceTimersByTime(1_999);
      expect(t.sent).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1', 'id1']);
      expect(t.outbox.list()[0]?.state).toBe('sending');
    } finally {
      vi.useRealTimers();
    }
  });

  it('retries transient server errors a few times, then gives up', async () => {
    const t = setup();
    t.outbox.add('c1', 'a', 'id1');
    for (let i = 0; i < 5; i++) {
      await vi.waitFor(() => expect(t.sent).toHaveLength(i + 1));
      t.outbox.handleError((t.sent[i] as SendFrame).rid, ApiError.of('INTERNAL'));
    }
    expect(t.outbox.list()[0]).toMatchObject({ state: 'failed', error: { code: 'INTERNAL' } });
  });

  it('ignores errors for rids that are not outstanding sends', () => {
    const t = setup();
    expect(t.outbox.handleError('r999', ApiError.of('INTERNAL'))).toBe(false);
  });

  it('waitFor resolves on ack and rejects on failure or discard', async () => {
    const t = setup();
    t.outbox.add('c1', 'a', 'id1');
    t.outbox.add('c2', 'b', 'id2');
    t.outbox.add('c3', 'c', 'id3');
    const ok = t.outbox.waitFor('id1');
    const failed = t.outbox.waitFor('id2');
    const discarded = t.outbox.waitFor('id3');
    t.outbox.handleAck(t.ackOf(t.sent[0] as SendFrame));
    t.outbox.handleError((t.sent[1] as SendFrame).rid, ApiError.of('TEXT_TOO_LONG'));
    t.outbox.discard('id3');
    await expect(ok).resolves.toMatchObject({ clientMsgId: 'id1' });
    await expect(failed).rejects.toMatchObject({ code: 'TEXT_TOO_LONG' });
    await expect(discarded).rejects.toMatchObject({ code: 'DISCARDED' });
    expect(t.outbox.list()).toEqual([expect.objectContaining({ clientMsgId: 'id2', state: 'failed' })]);
  });

  it('settles an entry from a synced copy of the message (ack lost with the socket)', () => {
    const t = setup();
    t.outbox.add('c1', 'a', 'id1');
    t.outbox.add('c1', 'b', 'id2');
    t.outbox.suspend();
    t.outbox.handleAck(t.ackOf(t.sent[0] as SendFrame));
    t.outbox.resume();
    expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1', 'id2']);
  });

  it('discarding the entry in flight lets the next one go', () => {
    const t = setup();
    t.outbox.add('c1', 'a', 'id1');
    t.outbox.add('c1', 'b', 'id2');
    t.outbox.discard('id1');
    expect(t.sent.map((f) => f.clientMsgId)).toEqual(['id1', 'id2']);
  });
});
