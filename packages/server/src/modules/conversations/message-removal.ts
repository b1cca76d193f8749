import { createHash, randomUUID } from 'node:crypto';
import type { Message, RemovedMessage } from '@kkchat/protocol';
import type { Transaction } from 'kysely';
import type { Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import type { DB } from '../../platform/db/schema.js';
import type { BusEvent } from '../../platform/events/event-bus.js';
import type { GroupMembershipCache } from '../groups/groups.cache.js';
import type { GroupRepository } from '../groups/groups.repository.js';
import { messageEvent } from './conversations.events.js';
import { toMessage } from './conversations.mapper.js';
import { REDACTION_KIND, type ConversationRepository, type MessageRow, type WithinStore } from './conversations.repository.js';
import { timeOrderedId } from '../../platform/ids.js';

/** Kinds that are part of the timeline's structure and cannot be removed. */
const NOT_REMOVABLE = new Set(['system', REDACTION_KIND]);

/** Thrown inside the removal's transaction when a concurrent removal won; rolls back the redaction's seq. */
class AlreadyRemoved extends Error {}

/** Runs inside the removal's transaction with the message row as it was (files clean up their blobs here). */
export type MessageRemovalWithin = (trx: Parameters<WithinStore>[0], original: MessageRow, redactionSeq: number) => Promise<void>;

/**
 * Removes a message for everyone (issue 7), in the manner of Matrix's redactions so that sync stays the truth:
 * the row becomes a tombstone at its own seq (never reused), and a redaction record with the next seq tells every
 * device, the offline ones through their normal catch-up. Unread and mention counts stop counting it (BR-09).
 */
export class MessageRemoval {
  constructor(
    private readonly platform: Platform,
    private readonly repo: ConversationRepository,
    private readonly groups: GroupMembershipCache,
    private readonly groupRepo: GroupRepository,
  ) {}

  /**
   * Removes the message at `seq`, attributing the redaction record to `removedBy`. Idempotent: a message already
   * removed answers its tombstone with `changed: false` (no second record, and `within` does not run).
   */
  async remove(conversationId: string, seq: number, removedBy: string, within?: MessageRemovalWithin): Promise<{ message: RemovedMessage; changed: boolean }> {
    const kind = await this.groups.kindOf(conversationId);
    if (!kind) throw new AppError('CONVERSATION_NOT_FOUND');
    const run = () => this.store(conversationId, kind, seq, removedBy, within);
    // Group messages are stored under the group's lock; the removal takes it too, so it orders with sends.
    const result = kind === 'group' ? await this.groups.withLock(conversationId, run) : await run();
    // After the commit: embedded, the events are published now; in cluster mode they were staged in the
    // transaction (the outbox) and this wakes the relay.
    for (const event of result.events) await this.platform.outbox.committed(event);
    return { message: result.tombstone, changed: result.events.length > 0 };
  }

  private async store(conversationId: string, kind: string, seq: number, removedBy: string, within?: MessageRemovalWithin) {
    const original = await this.repo.findMessage(conversationId, seq);
    if (!original) throw new AppError('MESSAGE_NOT_FOUND');
    if (NOT_REMOVABLE.has(original.kind)) throw new AppError('MESSAGE_NOT_REMOVABLE');
    if (original.removed_at !== null) return { tombstone: toMessage(original) as RemovedMessage, events: [] as BusEvent[] };
    const now = this.platform.now();
    const tombstone = toMessage({ ...original, text: null, payload: null, removed_at: now }) as RemovedMessage;
    const row = {
      id: timeOrderedId(now),
      conversationId,
      senderId: removedBy,
      clientMsgId: `srv:${randomUUID()}`,
      kind: REDACTION_KIND,
      text: null,
      payload: JSON.stringify({ removed: tombstone }),
      contentHash: createHash('sha256').update(`redaction\u0000${conversationId}\u0000${seq}`).digest('hex'),
      createdAt: now,
      // Nobody has read anything by this: the remover's cursor (if a member) stays where it was.
      moveSenderCursor: false,
    };
    const redactionAt = (redactionSeq: number): Message =>
      toMessage({
        conversation_id: conversationId,
        seq: redactionSeq,
        id: row.id,
        sender_id: removedBy,
        client_msg_id: row.clientMsgId,
        kind: REDACTION_KIND,
        text: null,
        payload: row.payload,
        content_hash: row.contentHash,
        created_at: now,
        removed_at: null,
      });
    let events: BusEvent[] = [];
    try {
      await this.repo.appendMessage(row, {
        within: async (trx, redactionSeq) => {
          if (!(await this.repo.markRemoved(trx, conversationId, seq, now))) throw new AlreadyRemoved();
          if (within) await within(trx, original, redactionSeq);
          events = await this.events(trx, conversationId, kind, redactionAt(redactionSeq), tombstone);
          if (this.platform.outbox.transactional) for (const event of events) await this.platform.outbox.stage(trx, event);
        },
      });
    } catch (error) {
      if (!(error instanceof AlreadyRemoved)) throw error;
      const current = await this.repo.findMessage(conversationId, seq);
      return { tombstone: toMessage(current!) as RemovedMessage, events: [] as BusEvent[] };
    }
    return { tombstone, events };
  }

  /**
   * The removal's two events, with audiences read in its transaction: the redaction record to the current members
   * (it is part of their timeline), and the tombstone to everyone who can see that seq, departed group members
   * included (their timeline ended before the record).
   */
  private async events(trx: Transaction<DB>, conversationId: string, kind: string, redaction: Message, tombstone: RemovedMessage): Promise<BusEvent[]> {
    const [members, viewers] = await Promise.all([
      kind === 'group' ? this.groupRepo.activeMemberIds(trx, conversationId) : this.repo.memberIds(trx, conversationId),
      this.repo.viewersOf(trx, conversationId, tombstone.seq),
    ]);
    return [
      messageEvent(members, redaction),
      { kind: 'deliver', userIds: viewers, frame: { type: 'message.removed', message: tombstone } },
    ];
  }
}
