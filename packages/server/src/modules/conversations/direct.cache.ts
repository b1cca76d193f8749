import type { InvalidationChannel } from '../../platform/cache/invalidation.js';
import { LocalCache } from '../../platform/cache/local-cache.js';
import { AppError } from '../../errors.js';
import { checkCanInteract } from '../contacts/contacts.policy.js';

/** What a one-to-one send checks, as of `version` (conversations.state_version, migration 0006). */
export interface DirectState {
  conversationId: string;
  version: number;
  /** The two participants. */
  memberIds: [string, string];
  /** `blocker:blocked` for each block between them. */
  blocks: Set<string>;
  friends: boolean;
}

const MAX_DIRECT = 50_000;

/**
 * One-to-one conversations' members, blocks and friendship, cached per process so a send reads none of them
 * from the database ("Queries per message send" in docs/architecture.md). Accepting a request, removing a
 * friend, blocking and unblocking bump the conversation's state_version in their transaction and invalidate the
 * entry on every node; a send's storing transaction refuses an older version, so a stale entry can delay a
 * message by one reload but never let it through a block.
 */
export class DirectConversationCache {
  private readonly states: LocalCache<DirectState | null>;

  constructor(load: (conversationId: string) => Promise<DirectState | null>, channel: InvalidationChannel, now: () => number = Date.now) {
    this.states = new LocalCache('direct', load, channel, MAX_DIRECT, now);
  }

  get(conversationId: string): Promise<DirectState | null> {
    return this.states.get(conversationId);
  }

  invalidate(conversationId: string): void {
    this.states.invalidate(conversationId);
  }

  /** Milliseconds since the entry was loaded. */
  age(conversationId: string): number {
    return this.states.age(conversationId);
  }

  forget(conversationId: string): void {
    this.states.forget(conversationId);
  }

}

/** One-to-one sends: a participant, no block either way, still friends. Returns the peer. */
export function checkCanSendDirect(state: DirectState | null, userId: string): string {
  if (!state || !state.memberIds.includes(userId)) throw new AppError('CONVERSATION_NOT_FOUND');
  const peerId = state.memberIds[0] === userId ? state.memberIds[1] : state.memberIds[0];
  checkCanInteract({ blockedThem: state.blocks.has(`${userId}:${peerId}`), blockedByThem: state.blocks.has(`${peerId}:${userId}`) });
  if (!state.friends) throw new AppError('NOT_FRIENDS');
  return peerId;
}
