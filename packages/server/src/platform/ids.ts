import { randomUUID } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made later sort later, so a
 * table's unique index on them grows at its end: inserting one touches the last page of the index instead of a
 * random one (for messages, a random v4 id dirtied one more page per message for every commit to write).
 * The random part is a v4 UUID's (Node keeps a pool of them), with the time in front and the version digit set.
 */
export function timeOrderedId(now = Date.now()): string {
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12);
  // randomUUID(): xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx; everything after its version digit is kept.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}
