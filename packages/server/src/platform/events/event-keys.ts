import { createHash } from 'node:crypto';
import type { ServerFrame } from '@kkchat/protocol';
import type { BusEvent } from './event-bus.js';

/**
 * The Kafka key of an event, which picks its partition: events with one key keep their order. A conversation's
 * messages, read receipts and typing share `c:<conversation>`; call frames share `call:<call>` (an offer must not
 * overtake nothing, ICE candidates must follow their offer); events about one user without a conversation
 * (presence, profile, contacts, closing sockets) share `u:<user>`; session closes use the first session.
 */
export function eventKey(event: BusEvent): string {
  switch (event.kind) {
    case 'deliver':
    case 'deliver-connections':
      return frameKey(event.frame) ?? (event.kind === 'deliver' ? `u:${event.userIds[0] ?? ''}` : `k:${event.connectionIds[0] ?? ''}`);
    case 'close-sessions':
      return `s:${event.sessionIds[0] ?? ''}`;
    case 'close-user':
      return `u:${event.userId}`;
    case 'call-command':
      return `call:${event.callId}`;
  }
}

function frameKey(frame: ServerFrame): string | null {
  if (frame.type === 'message') return `c:${frame.message.conversationId}`;
  if ('call' in frame && frame.call && typeof frame.call === 'object' && 'callId' in frame.call) return `call:${frame.call.callId}`;
  if ('callId' in frame && typeof frame.callId === 'string') return `call:${frame.callId}`;
  if ('conversationId' in frame && typeof frame.conversationId === 'string') return `c:${frame.conversationId}`;
  if (frame.type === 'presence') return `u:${frame.userId}`;
  return null;
}

/** The outbox shard of a key: stable across processes and versions (the first 4 bytes of its SHA-256). */
export function shardOf(key: string, shards: number): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % shards;
}
