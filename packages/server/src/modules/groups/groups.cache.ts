import type { GroupRole } from '@kkchat/protocol';
import type { InvalidationChannel } from '../../platform/cache/invalidation.js';
import { LocalCache } from '../../platform/cache/local-cache.js';
import { KeyedQueue } from '../../platform/keyed-queue.js';
import type { GroupRepository } from './groups.repository.js';

export interface GroupMemberState {
  role: GroupRole;
  mutedUntil: number | null;
}

/** What the send path needs about a group, kept in memory (issue 3: membership lookups off the database). */
export interface GroupState {
  conversationId: string;
  /** conversations.state_version when this was loaded: stores are checked against it (migration 0006). */
  version: number;
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
 * Group membership cached per process, invalidated on every change (here and, through the invalidation
 * channel, on every other node), plus a per-group lock. Every membership change and every group send runs
 * under the group's lock: a send checks membership and stores its message, a change stores its system message
 * and edits membership, one at a time. So a message is either stored before a removal (and fanned out to the
 * members of that moment) or refused after it, never half-delivered (issue 3 races). The lock covers only
 * check + one transaction; fan-out happens after it is released. Across nodes the lock does not reach, so
 * every store is checked against the state's version in its transaction (a stale entry is reloaded and the
 * checks run again), and the group send re-checks the sender's member row there as well.
 */
export class GroupMembershipCache {
  private readonly kinds = new Map<string, string>();
  private readonly states: LocalCache<GroupState | null>;
  private readonly locks = new KeyedQueue();

  constructor(
    private readonly repo: GroupRepository,
    channel: InvalidationChannel,
    now: () => number = Date.now,
  ) {
    this.states = new LocalCache('group', (id) => repo.loadState(id), channel, MAX_GROUPS, now);
  }

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
    return this.states.get(conversationId);
  }

  /** The group changed on this node: drop it here and on the other nodes. */
  invalidate(conversationId: string): void {
    this.states.invalidate(conversationId);
  }

  /** Milliseconds since the group's state was loaded. */
  age(conversationId: string): number {
    return this.states.age(conversationId);
  }

  /** Drops the entry here only (a store found it stale; the node that changed it has told the others). */
  forget(conversationId: string): void {
    this.states.forget(conversationId);
  }

  /** Runs `task` after every earlier task of this group has finished; tasks of different groups run freely. */
  withLock<T>(conversationId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(conversationId, task);
  }
}
