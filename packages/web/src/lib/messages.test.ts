import { describe, expect, it } from 'vitest';
import type { Message } from '@kkchat/protocol';
import { lastReadOwnSeq, mergeMessages, previewText } from './messages';

function message(seq: number, senderId = 'u1', text = `m${seq}`): Message {
  return { id: `id${seq}`, conversationId: 'c1', seq, senderId, clientMsgId: `c${seq}`, createdAt: seq, kind: 'text', text };
}

describe('mergeMessages', () => {
  it('appends a newer message', () => {
    expect(mergeMessages([message(1)], [message(2)]).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('sorts by seq and dedupes by seq', () => {
    const merged = mergeMessages([message(3), message(4)], [message(1), message(4), message(2), message(3)]);
    expect(merged.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it('returns the same array when nothing is new', () => {
    const existing = [message(1), message(2)];
    expect(mergeMessages(existing, [message(2)])).toBe(existing);
    expect(mergeMessages(existing, [])).toBe(existing);
  });
});

describe('lastReadOwnSeq', () => {
  it('finds my newest message at or below the peer read cursor', () => {
    const list = [message(1, 'me'), message(2, 'peer'), message(3, 'me'), message(4, 'me')];
    expect(lastReadOwnSeq(list, 'me', 3)).toBe(3);
    expect(lastReadOwnSeq(list, 'me', 2)).toBe(1);
    expect(lastReadOwnSeq(list, 'me', 0)).toBeNull();
  });
});

describe('previewText', () => {
  it('collapses whitespace', () => {
    expect(previewText(message(1, 'me', ' a\n\nb  c '))).toBe('a b c');
  });
});
