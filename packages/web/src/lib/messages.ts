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
    const held = bySeq.get(message.seq);
    // A tombstone replaces the copy we hold (an administrator removed it since we loaded it).
    if (!held || (message.kind === 'removed' && held.kind !== 'removed')) {
      bySeq.set(message.seq, message);
      changed = true;
    }
  }
  if (!changed) return existing as Message[];
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * Puts `replacement` in place of the message with the same seq (a removal's tombstone). Returns `existing`
 * itself when that seq is not loaded or already holds it.
 */
export function replaceMessage(existing: readonly Message[], replacement: Message): Message[] {
  const index = existing.findIndex((m) => m.seq === replacement.seq);
  if (index < 0 || existing[index]!.kind === replacement.kind) return existing as Message[];
  const next = [...existing];
  next[index] = replacement;
  return next;
}

/** The seq of my newest message the peer has read (the one that gets the "Read" label), or null. */
export function lastReadOwnSeq(messages: readonly Message[], myId: string, peerReadSeq: number): number | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.senderId === myId && message.seq <= peerReadSeq) return message.seq;
  }
  return null;
}

/** Timeline records that are never shown (a removal's redaction record). */
export function isHidden(message: Message): boolean {
  return message.kind === 'redaction';
}

/** The text shown for a message in previews and notifications. */
export function previewText(message: Message): string {
  // Collapse line breaks so a multi-line message stays one line in the list.
  if (message.kind !== 'text') return '';
  return message.text.replace(/\s+/g, ' ').trim();
}
