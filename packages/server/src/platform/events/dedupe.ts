import type { BusEvent } from './event-bus.js';

/** Event ids remembered (duplicates come from replays after a rejoin or a relay retry: recent ones). */
const MAX_EVENT_IDS = 50_000;
/** Conversations whose highest delivered seq is remembered; the least recently used are forgotten first. */
const MAX_CONVERSATIONS = 100_000;

/**
 * Drops events a node has already delivered (BR-39): a Kafka consumer that rejoins resumes from its last commit
 * and sees some events again, and a relay that failed between publishing and deleting publishes them again.
 * Message events are deduplicated by (conversation, seq): a seq at or below the highest one pushed for that
 * conversation is not pushed again (a client that missed a lower one notices the gap and pulls it). Every other
 * event is deduplicated by its envelope id. Both memories are bounded; what falls out of them can at worst be
 * pushed twice, which the SDK drops by seq.
 */
export class DeliveryDedupe {
  private readonly eventIds = new Set<string>();
  private readonly highestSeq = new Map<string, number>();

  /** True the first time an event is seen (deliver it), false for a repeat (drop it). */
  firstTime(id: string, event: BusEvent): boolean {
    if (event.kind === 'deliver' && event.frame.type === 'message') {
      const { conversationId, seq } = event.frame.message;
      const highest = this.highestSeq.get(conversationId);
      if (highest !== undefined && seq <= highest) return false;
      // Re-inserting moves the conversation to the young end of the map (least recently used order).
      this.highestSeq.delete(conversationId);
      this.highestSeq.set(conversationId, seq);
      if (this.highestSeq.size > MAX_CONVERSATIONS) this.highestSeq.delete(this.highestSeq.keys().next().value as string);
      return true;
    }
    if (this.eventIds.has(id)) return false;
    this.eventIds.add(id);
    if (this.eventIds.size > MAX_EVENT_IDS) this.eventIds.delete(this.eventIds.values().next().value as string);
    return true;
  }

  size(): { eventIds: number; conversations: number } {
    return { eventIds: this.eventIds.size, conversations: this.highestSeq.size };
  }
}
