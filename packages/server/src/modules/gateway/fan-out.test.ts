import type { Message, ServerFrame } from '@kkchat/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Connection } from './connection.js';
import { fanOut } from './fan-out.js';

const message: Message = {
  id: 'm1',
  conversationId: 'g1',
  seq: 7,
  senderId: 'u1',
  clientMsgId: 'c1',
  createdAt: 1,
  kind: 'text',
  text: 'hello group',
} as Message;

/** Sockets by user, as the gateway's registry holds them (only the id matters to the fan-out). */
function registry(devices: Record<string, string[]>): Map<string, Set<Connection>> {
  return new Map(Object.entries(devices).map(([userId, ids]) => [userId, new Set(ids.map((id) => ({ id }) as Connection))]));
}

/** A writer that records what each socket was handed; sockets in `refuse` are full (the gateway's write says false). */
function recorder(refuse: string[] = []) {
  const writes: { conn: string; bytes: string; isHint: boolean }[] = [];
  const write = (conn: Connection, bytes: string, isHint: boolean) => {
    writes.push({ conn: conn.id, bytes, isHint });
    return !refuse.includes(conn.id);
  };
  return { writes, write };
}

afterEach(() => vi.restoreAllMocks());

describe('fanOut (gateway delivery of one frame to many sockets)', () => {
  it('serializes a group message once and hands the same bytes to every socket of every member', () => {
    const sockets = registry({ u1: ['a1', 'a2'], u2: ['b1'], u3: ['c1', 'c2', 'c3'], u4: [] });
    const { writes, write } = recorder();
    const encode = vi.spyOn(JSON, 'stringify');
    const frame: ServerFrame = { type: 'message', message };

    const written = fanOut(frame, ['u1', 'u2', 'u3', 'u4', 'u5'], undefined, (id) => sockets.get(id), write);

    expect(encode).toHaveBeenCalledTimes(1);
    expect(encode).toHaveBeenCalledWith(frame);
    expect(written).toBe(6);
    expect(writes.map((w) => w.conn)).toEqual(['a1', 'a2', 'b1', 'c1', 'c2', 'c3']);
    const bytes = encode.mock.results[0]!.value as string;
    for (const w of writes) expect(w).toEqual({ conn: w.conn, bytes, isHint: false });
    expect(JSON.parse(bytes)).toEqual(frame);
  });

  it('skips the socket that already got the ack, and writes a user named twice once', () => {
    const sockets = registry({ u1: ['a1', 'a2'], u2: ['b1'] });
    const { writes, write } = recorder();
    const written = fanOut({ type: 'message', message }, ['u1', 'u2', 'u1', 'u2'], 'a1', (id) => sockets.get(id), write);
    expect(writes.map((w) => w.conn)).toEqual(['a2', 'b1']);
    expect(written).toBe(2);
  });

  it('counts only the sockets that took the frame, and marks typing and presence as hints', () => {
    const sockets = registry({ u1: ['a1'], u2: ['b1', 'b2'] });
    const { writes, write } = recorder(['b2']);
    const encode = vi.spyOn(JSON, 'stringify');
    const written = fanOut({ type: 'typing', conversationId: 'g1', userId: 'u3' }, ['u1', 'u2'], undefined, (id) => sockets.get(id), write);
    expect(written).toBe(2);
    expect(encode).toHaveBeenCalledTimes(1);
    expect(writes.map((w) => [w.conn, w.isHint])).toEqual([
      ['a1', true],
      ['b1', true],
      ['b2', true],
    ]);
    const presence = recorder();
    fanOut({ type: 'presence', userId: 'u3', online: true, lastSeenAt: null }, ['u1'], undefined, (id) => sockets.get(id), presence.write);
    expect(presence.writes[0]!.isHint).toBe(true);
  });
});
