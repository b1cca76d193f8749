import type { Message } from '@kkchat/protocol';
import type { Transaction } from 'kysely';
import type { DB } from '../../platform/db/schema.js';
import type { BusEvent } from '../../platform/events/event-bus.js';

/** Who a stored message goes to: known before the transaction, or read inside it (a membership change). */
export interface Audience {
  userIds: string[] | ((trx: Transaction<DB>) => Promise<string[]>);
  exceptConnectionId?: string | undefined;
}

/**
 * The event that delivers a stored message: every device of `userIds` but the socket that got the ack. It is
 * built at the commit (after it, or staged in the outbox just before it), so `committedAt` starts the delivery
 * latency that the gateways measure.
 */
export function messageEvent(userIds: string[], message: Message, exceptConnectionId?: string): BusEvent {
  return {
    kind: 'deliver',
    userIds,
    frame: { type: 'message', message },
    ...(exceptConnectionId ? { exceptConnectionId } : {}),
    committedAt: Date.now(),
  };
}
