import { randomFillSync } from 'node:crypto';

const random = new Uint8Array(10);

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made later sort later, so a
 * table's unique index on them grows at its end: inserting one touches the last page of the index instead of a
 * random one (for messages, a random v4 id dirtied one more page per message for every commit to write).
 */
export function timeOrderedId(now = Date.now()): string {
  randomFillSync(random);
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12);
  const hex = Buffer.from(random).toString('hex');
  // version 7 in the 13th digit, variant 10xx in the 17th
  const variant = ((random[2]! & 0x3f) | 0x80).toString(16).padStart(2, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${hex.slice(1, 4)}-${variant}${hex.slice(6, 8)}-${hex.slice(8, 20)}`;
}
