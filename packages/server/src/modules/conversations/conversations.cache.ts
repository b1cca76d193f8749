import type { ConversationRepository } from './conversations.repository.js';

/** Entries kept before the cache starts over (each is two ids: a few MB at this size). */
const MAX_ENTRIES = 100_000;

/**
 * The two members of each direct conversation, kept in memory. A direct conversation's members are fixed when it
 * is created (the pair of its `direct_key`) and never change, so an entry never goes stale and needs no
 * invalidation, on this node or any other. Keeps two reads off every one-to-one send.
 */
export class DirectMembersCache {
  private readonly members = new Map<string, readonly [string, string]>();

  constructor(private readonly repo: ConversationRepository) {}

  /** The pair, or null when the conversation does not exist or is not a direct one. */
  async get(conversationId: string): Promise<readonly [string, string] | null> {
    const known = this.members.get(conversationId);
    if (known) return known;
    const rows = await this.repo.directMembers(conversationId);
    if (rows.length !== 2) return null;
    const pair = [rows[0]!, rows[1]!] as const;
    if (this.members.size >= MAX_ENTRIES) this.members.clear();
    this.members.set(conversationId, pair);
    return pair;
  }
}
