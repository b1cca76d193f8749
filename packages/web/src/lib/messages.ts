import type { Message } from '@kkchat/protocol';

/**
 * Merges messages into a conversation's list: sorted by seq, one entry per seq (a push and a history page may
 * carry the same message; the server's seq is the identity). Returns `existing` itself when nothing changed.
 */
export function mergeMessages(existing: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return existing as Message[];
  const last = existing.at(-1);
  // Fast path for the common case: one live message after everything we hold.
  if (incoming.length === 1 && (last === undefined || incoming[0]!.seq > last.seq)) {
    return [...existing, incoming[0]!];
  }
  const bySeq = new Map<number, Message>();
  for (const message of existing) bySeq.set(message.seq, message);
  let changed = false;
  for (const message of incoming) {
    if (!bySeq.has(message.seq)) {
      bySeq.set(message.seq, message);
      changed = true;
    }
  }
  if (!changed) return existing as Message[];
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** The seq of my newest message the peer has read (the one that gets the "Read" label), or null. */
export function lastReadOwnSeq(messages: readonly Message[], myId: string, peerReadSeq: number): number | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.senderId === myId && message.seq <= peerReadSeq) return message.seq;
  }
  return null;
}

/** The text shown for a message in previews and notifications. */
export function previewText(message: Message): string {
  // Collapse line breaks so a multi-line message stays one line in the list.
  if (message.kind !== 'text') return '';
  return message.text.replace(/\s+/g, ' ').trim();
}
