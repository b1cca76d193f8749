import type { Relationship } from '@kkchat/protocol';
import type { Selectable } from 'kysely';
import type { Database } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { FriendRequestsTable } from '../../platform/db/schema.js';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../platform/db/schema.js';
import { bumpStateVersion, ensureDirectConversation } from '../conversations/conversations.repository.js';
import { PUBLIC_USER_COLUMNS } from '../users/users.mapper.js';

export type FriendRequestRow = Selectable<FriendRequestsTable>;

/** Blocks between two users, seen from the first. */
export interface BlockState {
  /** The first user blocked the second. */
  blockedThem: boolean;
  /** The second user blocked the first. */
  blockedByThem: boolean;
}

/** All SQL about friendships, friend requests and blocks. */
export class ContactRepository {
  constructor(private readonly db: Database) {}

  /**
   * Who sees the user's presence and profile changes live: their friends, minus anyone the user has blocked
   * (a block keeps the friendship row, but the blocked user learns nothing more about the blocker).
   */
  async audienceOf(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('friendships as f')
      .leftJoin('blocks as b', (join) => join.onRef('b.blocked_id', '=', 'f.friend_id').on('b.blocker_id', '=', userId))
      .select('f.friend_id')
      .where('f.user_id', '=', userId)
      .where('b.blocker_id', 'is', null)
      .execute();
    return rows.map((r) => r.friend_id);
  }

  /** Of `userIds`, those who have blocked `viewerId`, with when they did. */
  async blockedBy(viewerId: string, userIds: readonly string[]): Promise<Map<string, number>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('blocks')
      .select(['blocker_id', 'created_at'])
      .where('blocked_id', '=', viewerId)
      .where('blocker_id', 'in', userIds)
      .execute();
    return new Map(rows.map((r) => [r.blocker_id, Number(r.created_at)]));
  }

  findFriendship(userId: string, friendId: string) {
    return this.db
      .selectFrom('friendships')
      .selectAll()
      .where('user_id', '=', userId)
      .where('friend_id', '=', friendId)
      .executeTakeFirst();
  }

  listFriends(userId: string) {
    return this.db
      .selectFrom('friendships as f')
      .innerJoin('users as u', 'u.id', 'f.friend_id')
      .select(PUBLIC_USER_COLUMNS.map((c) => `u.${c}` as const))
      .select(['f.conversation_id', 'f.created_at as since', 'u.last_seen_at'])
      .where('f.user_id', '=', userId)
      .orderBy('u.display_name')
      .execute();
  }

  async blockState(userId: string, otherId: string): Promise<BlockState> {
    const rows = await this.db
      .selectFrom('blocks')
      .select(['blocker_id'])
      .where((eb) =>
        eb.or([
          eb.and([eb('blocker_id', '=', userId), eb('blocked_id', '=', otherId)]),
          eb.and([eb('blocker_id', '=', otherId), eb('blocked_id', '=', userId)]),
        ]),
      )
      .execute();
    return {
      blockedThem: rows.some((r) => r.blocker_id === userId),
      blockedByThem: rows.some((r) => r.blocker_id === otherId),
    };
  }

  /** The viewer's relationship to each of `otherIds`. Being blocked by someone is deliberately not visible. */
  async relationships(viewerId: string, otherIds: readonly string[]): Promise<Map<string, Relationship>> {
    const result = new Map<string, Relationship>();
    if (otherIds.length === 0) return result;
    const [friends, blocked, sent, received] = await Promise.all([
      this.db.selectFrom('friendships').select('friend_id as id').where('user_id', '=', viewerId).where('friend_id', 'in', otherIds).execute(),
      this.db.selectFrom('blocks').select('blocked_id as id').where('blocker_id', '=', viewerId).where('blocked_id', 'in', otherIds).execute(),
      this.db
        .selectFrom('friend_requests')
        .select('to_user_id as id')
        .where('from_user_id', '=', viewerId)
        .where('status', '=', 'pending')
        .where('to_user_id', 'in', otherIds)
        .execute(),
      this.db
        .selectFrom('friend_requests')
        .select('from_user_id as id')
        .where('to_user_id', '=', viewerId)
        .where('status', '=', 'pending')
        .where('from_user_id', 'in', otherIds)
        .execute(),
    ]);
    for (const id of otherIds) result.set(id, id === viewerId ? 'self' : 'none');
    for (const r of received) result.set(r.id, 'request_received');
    for (const r of sent) result.set(r.id, 'request_sent');
    for (const r of friends) result.set(r.id, 'friend');
    for (const r of blocked) result.set(r.id, 'blocked');
    return result;
  }

  findRequest(id: string): Promise<FriendRequestRow | undefined> {
    return this.db.selectFrom('friend_requests').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findPendingRequest(fromUserId: string, toUserId: string): Promise<FriendRequestRow | undefined> {
    return this.db
      .selectFrom('friend_requests')
      .selectAll()
      .where('pending_key', '=', pendingKey(fromUserId, toUserId))
      .executeTakeFirst();
  }

  async insertRequest(row: Omit<FriendRequestRow, 'pending_key' | 'status'>): Promise<void> {
    await this.db
      .insertInto('friend_requests')
      .values({ ...row, status: 'pending', pending_key: pendingKey(row.from_user_id, row.to_user_id) })
      .execute();
  }

  listPendingRequests(userId: string, direction: 'incoming' | 'outgoing'): Promise<FriendRequestRow[]> {
    return this.db
      .selectFrom('friend_requests')
      .selectAll()
      .where(direction === 'incoming' ? 'to_user_id' : 'from_user_id', '=', userId)
      .where('status', '=', 'pending')
      .orderBy('created_at', 'desc')
      .execute();
  }

  /** Moves a pending request to a final state; false when it was no longer pending (a concurrent change won). */
  async closeRequest(id: string, status: 'rejected' | 'cancelled', now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('friend_requests')
      .set({ status, pending_key: null, updated_at: now })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Accepts a pending request: the request, both friendship rows and the direct conversation change in one
   * transaction. A crossing request the other way (two simultaneous sends can both be stored) is settled with
   * it. Returns the conversation id and the crossing request, or null when the request was no longer pending.
   */
  async acceptRequest(
    request: FriendRequestRow,
    now: number,
  ): Promise<{ conversationId: string; crossing: FriendRequestRow | undefined } | null> {
    return inTransaction(this.db, async (trx) => {
      const result = await trx
        .updateTable('friend_requests')
        .set({ status: 'accepted', pending_key: null, updated_at: now })
        .where('id', '=', request.id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return null;
      const a = request.from_user_id;
      const b = request.to_user_id;
      const crossing = await trx
        .selectFrom('friend_requests')
        .selectAll()
        .where('pending_key', '=', pendingKey(b, a))
        .executeTakeFirst();
      if (crossing) {
        await trx
          .updateTable('friend_requests')
          .set({ status: 'accepted', pending_key: null, updated_at: now })
          .where('id', '=', crossing.id)
          .execute();
      }
      const conversationId = await ensureDirectConversation(trx, a, b, now);
      await bumpStateVersion(trx, conversationId);
      await trx
        .insertInto('friendships')
        .values([
          { user_id: a, friend_id: b, conversation_id: conversationId, created_at: now },
          { user_id: b, friend_id: a, conversation_id: conversationId, created_at: now },
        ])
        .execute();
      return {
        conversationId,
        crossing: crossing && { ...crossing, status: 'accepted', pending_key: null, updated_at: now },
      };
    });
  }

  /**
   * Ends a friendship in both directions. Returns whether they were friends and their conversation, whose
   * state version moves with the change (its cached state says "friends").
   */
  async removeFriendship(userId: string, friendId: string): Promise<{ removed: boolean; conversationId: string | null }> {
    return inTransaction(this.db, async (trx) => {
      const result = await trx
        .deleteFrom('friendships')
        .where((eb) =>
          eb.or([
            eb.and([eb('user_id', '=', userId), eb('friend_id', '=', friendId)]),
            eb.and([eb('user_id', '=', friendId), eb('friend_id', '=', userId)]),
          ]),
        )
        .executeTakeFirst();
      const removed = Number(result.numDeletedRows) > 0;
      return { removed, conversationId: removed ? await bumpPairVersion(trx, userId, friendId) : null };
    });
  }

  /**
   * Blocks and withdraws pending requests between the two users, atomically, moving their conversation's state
   * version with it. Returns the closed requests and the conversation (if they have one).
   */
  async block(blockerId: string, blockedId: string, now: number): Promise<{ closed: FriendRequestRow[]; conversationId: string | null }> {
    return inTransaction(this.db, async (trx) => {
      const exists = await trx
        .selectFrom('blocks')
        .select('blocker_id')
        .where('blocker_id', '=', blockerId)
        .where('blocked_id', '=', blockedId)
        .executeTakeFirst();
      if (!exists) {
        await trx.insertInto('blocks').values({ blocker_id: blockerId, blocked_id: blockedId, created_at: now }).execute();
      }
      const pending = await trx
        .selectFrom('friend_requests')
        .selectAll()
        .where('pending_key', 'in', [pendingKey(blockerId, blockedId), pendingKey(blockedId, blockerId)])
        .execute();
      if (pending.length > 0) {
        await trx
          .updateTable('friend_requests')
          .set({ status: 'cancelled', pending_key: null, updated_at: now })
          .where('id', 'in', pending.map((r) => r.id))
          .execute();
      }
      return {
        closed: pending.map((r) => ({ ...r, status: 'cancelled' as const, pending_key: null, updated_at: now })),
        conversationId: await bumpPairVersion(trx, blockerId, blockedId),
      };
    });
  }

  /** Lifts a block; returns the pair's conversation, whose state version moves with it. */
  async unblock(blockerId: string, blockedId: string): Promise<string | null> {
    return inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('blocks').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).execute();
      return bumpPairVersion(trx, blockerId, blockedId);
    });
  }

  listBlocks(blockerId: string) {
    return this.db
      .selectFrom('blocks as b')
      .innerJoin('users as u', 'u.id', 'b.blocked_id')
      .select(PUBLIC_USER_COLUMNS.map((c) => `u.${c}` as const))
      .select('b.created_at as blocked_at')
      .where('b.blocker_id', '=', blockerId)
      .orderBy('b.created_at', 'desc')
      .execute();
  }
}

function pendingKey(fromUserId: string, toUserId: string): string {
  return `${fromUserId}:${toUserId}`;
}

/** Bumps the state version of the pair's direct conversation, if they have one, and returns its id. */
async function bumpPairVersion(trx: Kysely<DB> | Transaction<DB>, a: string, b: string): Promise<string | null> {
  const row = await trx.selectFrom('conversations').select('id').where('direct_key', '=', [a, b].sort().join(':')).executeTakeFirst();
  if (!row) return null;
  await bumpStateVersion(trx, row.id);
  return row.id;
}
