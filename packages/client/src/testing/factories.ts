import type { HistoryResponse, Message } from '@kkchat/protocol';

/** A text message with defaults; seq and conversationId are what tests care about. */
export function buildMessage(
  conversationId: string,
  seq: number,
  overrides: Partial<Extract<Message, { kind: 'text' }>> = {},
): Message {
  return {
    id: `${conversationId}-m${seq}`,
    conversationId,
    seq,
    senderId: 'peer',
    clientMsgId: `${conversationId}-cm${seq}`,
    createdAt: 1_700_000_000_000 + seq,
    kind: 'text',
    text: `message ${seq}`,
    ...overrides,
  };
}

/** A history page the way the server pages `after`: oldest first, hasMore when more are newer. */
export function historyPage(all: Message[], after: number, limit: number, lastSeq = all.length): HistoryResponse {
  const newer = all.filter((m) => m.seq > after);
  return { messages: newer.slice(0, limit), hasMore: newer.length > limit, lastSeq, earliestAvailableSeq: all.length ? 1 : 0 };
}

/** Deterministic PRNG (mulberry32) so randomized tests reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
