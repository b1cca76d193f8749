import type { ServerFrame } from '@kkchat/protocol';
import type { Connection } from './connection.js';

/** Frames that are only hints: a socket with a large send buffer is not sent them (gateway.ts `write`). */
export const HINT_FRAMES = new Set<ServerFrame['type']>(['typing', 'presence']);

/**
 * One frame to many sockets: serialized once, and the same bytes handed to `write` for every socket of every
 * user in `userIds` (a user named twice gets it once) except `exceptConnectionId`. A group message reaches all
 * its members' devices for the cost of one JSON.stringify. Returns how many sockets `write` accepted.
 */
export function fanOut(
  frame: ServerFrame,
  userIds: Iterable<string>,
  exceptConnectionId: string | undefined,
  socketsOf: (userId: string) => Iterable<Connection> | undefined,
  write: (conn: Connection, bytes: string, isHint: boolean) => boolean,
): number {
  const bytes = JSON.stringify(frame);
  const isHint = HINT_FRAMES.has(frame.type);
  let written = 0;
  for (const userId of new Set(userIds)) {
    for (const conn of socketsOf(userId) ?? []) {
      if (conn.id !== exceptConnectionId && write(conn, bytes, isHint)) written++;
    }
  }
  return written;
}
