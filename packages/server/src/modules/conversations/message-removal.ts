import { createHash, randomUUID } from 'node:crypto';
import type { Message, RemovedMessage } from '@kkchat/protocol';
import type { Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import type { GroupMembershipCache } from '../groups/groups.cache.js';
import { toMessage } from './conversations.mapper.js';
import { REDACTION_KIND, type ConversationRepository, type MessageRow, type WithinStore } from './conversations.repository.js';

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
  ) {}

  /**
   * Removes the message at `seq`, attributing the redaction record to `removedBy`. Idempotent: a message already
   * removed answers its tombstone with `changed: false` (no second record, and `within` does not run).
   */
  async remove(conversationId: string, seq: number, removedBy: string, within?: MessageRemovalWithin): Promise<{ message: RemovedMessage; changed: boolean }> {
    const kind = await this.groups.kindOf(conversationId);
    if (!kind) throw new AppError('CONVERSATION_NOT_FOUND');
    const run = () => this.store(conversationId, seq, removedBy, within);
    // Group messages are stored under the group's lock; the removal takes it too, so it orders with sends.
    const result = kind === 'group' ? await this.groups.withLock(conversationId, run) : await run();
    if (result.redaction) await this.announce(conversationId, kind, result.redaction, result.tombstone);
    return { message: result.tombstone, changed: result.redaction !== null };
  }

  private async store(conversationId: string, seq: number, removedBy: string, within?: MessageRemovalWithin) {
    const original = await this.repo.findMessage(conversationId, seq);
    if (!original) throw new AppError('MESSAGE_NOT_FOUND');
    if (NOT_REMOVABLE.has(original.kind)) throw new AppError('MESSAGE_NOT_REMOVABLE');
    if (original.removed_at !== null) return { tombstone: toMessage(original) as RemovedMessage, redaction: null };
    const now = this.platform.now();
    const tombstone = toMessage({ ...original, text: null, payload: null, removed_at: now }) as RemovedMessage;
    const row = {
      id: randomUUID(),
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
    let redactionSeq: number;
    try {
      ({ seq: redactionSeq } = await this.repo.appendMessage(row, {
        within: async (trx, bumped) => {
          if (!(await this.repo.markRemoved(trx, conversationId, seq, now))) throw new AlreadyRemoved();
          if (within) await within(trx, original, bumped);
        },
      }));
    } catch (error) {
      if (!(error instanceof AlreadyRemoved)) throw error;
      const current = await this.repo.findMessage(conversationId, seq);
      return { tombstone: toMessage(current!) as RemovedMessage, redaction: null };
    }
    const redaction = toMessage({
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
    return { tombstone, redaction };
  }

  /**
   * After commit: the redaction record to the current members (it is part of their timeline), and the tombstone
   * to everyone who can see that seq, departed group members included (their timeline ended before the record).
   */
  private async announce(conversationId: string, kind: string, redaction: Message, tombstone: RemovedMessage): Promise<void> {
    const [viewers, members] = await Promise.all([
      this.repo.viewersOf(conversationId, tombstone.seq),
      kind === 'group'
        ? this.groups.get(conversationId).then((state) => state?.audience ?? [])
        : this.repo.members(conversationId).then((rows) => rows.map((r) => r.user_id)),
    ]);
    await this.platform.bus.publish({ kind: 'deliver', userIds: members, frame: { type: 'message', message: redaction } });
    await this.platform.bus.publish({ kind: 'deliver', userIds: viewers, frame: { type: 'message.removed', message: tombstone } });
  }
}
