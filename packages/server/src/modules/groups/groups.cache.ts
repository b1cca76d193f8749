import type { GroupRole } from '@kkchat/protocol';
import { KeyedQueue } from '../../platform/keyed-queue.js';
import type { GroupRepository } from './groups.repository.js';

export interface GroupMemberState {
  role: GroupRole;
  mutedUntil: number | null;
}

/** What the send path needs about a group, kept in memory (issue 3: membership lookups off the database). */
export interface GroupState {
  conversationId: string;
  ownerId: string;
  mutedAll: boolean;
  dismissed: boolean;
  memberLimit: number;
  /** Current members. */
  members: Map<string, GroupMemberState>;
  /** Users who left or were removed (they get NOT_MEMBER, not CONVERSATION_NOT_FOUND). */
  departed: Set<string>;
  /** The current members' ids: the fan-out audience, built once per load. */
  audience: string[];
}

/** Most conversation kinds remembered; past this the map starts over (kinds never change, so this is safe). */
const MAX_KINDS = 100_000;
/** Most group states kept; past this the oldest is dropped and reloaded on its next use. */
const MAX_GROUPS = 10_000;

/**
 * Group membership cached per process, invalidated on every change, plus a per-group lock. Every membership
 * change and every group send runs under the group's lock: a send checks membership and stores its message,
 * a change stores its system message and edits membership, one at a time. So a message is either stored
 * before a removal (and fanned out to the members of that moment) or refused after it, never half-delivered
 * (issue 3 races). The lock covers only check + one transaction; fan-out happens after it is released.
 * In cluster mode the storing transaction re-checks the sender's membership in the database as well.
 */
export class GroupMembershipCache {
  private readonly kinds = new Map<string, string>();
  private readonly states = new Map<string, Promise<GroupState | null>>();
  private readonly locks = new KeyedQueue();

  constructor(private readonly repo: GroupRepository) {}

  /** The conversation's kind ('direct' | 'group'), or null when there is no such conversation. */
  async kindOf(conversationId: string): Promise<string | null> {
    const known = this.kinds.get(conversationId);
    if (known) return known;
    const kind = await this.repo.conversationKind(conversationId);
    if (kind) {
      if (this.kinds.size >= MAX_KINDS) this.kinds.clear();
      this.kinds.set(conversationId, kind);
    }
    return kind;
  }

  get(conversationId: string): Promise<GroupState | null> {
    let state = this.states.get(conversationId);
    if (!state) {
      state = this.repo.loadState(conversationId);
      if (this.states.size >= MAX_GROUPS) this.states.delete(this.states.keys().next().value as string);
      this.states.set(conversationId, state);
      // A failed load is not cached.
      state.catch(() => this.states.get(conversationId) === state && this.states.delete(conversationId));
    }
    return state;
  }

  invalidate(conversationId: string): void {
    this.states.delete(conversationId);
  }

  /** Runs `task` after every earlier task of this group has finished; tasks of different groups run freely. */
  withLock<T>(conversationId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(conversationId, task);
  }
}
