import type { GroupRole } from '@kkchat/protocol';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../../platform/db/database.js';
import { inTransaction } from '../../platform/db/transaction.js';
import type { DB, GroupsTable } from '../../platform/db/schema.js';
import type { GroupState } from './groups.cache.js';
import { bumpStateVersion } from '../conversations/conversations.repository.js';

export type GroupRow = Selectable<GroupsTable>;
export type Trx = Kysely<DB> | Transaction<DB>;

/** All SQL about groups: settings, member rows (roles, mutes, departures), mentions, join requests. */
export class GroupRepository {
  constructor(private readonly db: Database) {}

  async conversationKind(conversationId: string): Promise<string | null> {
    const row = await this.db.selectFrom('conversations').select('kind').where('id', '=', conversationId).executeTakeFirst();
    return row?.kind ?? null;
  }

  findGroup(conversationId: string): Promise<GroupRow | undefined> {
    return this.db.selectFrom('groups').selectAll().where('conversation_id', '=', conversationId).executeTakeFirst();
  }

  async loadState(conversationId: string): Promise<GroupState | null> {
    // The version first: a change committed while the rows are read makes the state look older, never newer.
    const versionRow = await this.db.selectFrom('conversations').select('state_version').where('id', '=', conversationId).executeTakeFirst();
    if (!versionRow) return null;
    const [group, rows] = await Promise.all([
      this.findGroup(conversationId),
      this.db
        .selectFrom('conversation_members')
        .select(['user_id', 'role', 'muted_until', 'left_at'])
        .where('conversation_id', '=', conversationId)
        .execute(),
    ]);
    if (!group) return null;
    const state: GroupState = {
      conversationId,
      version: Number(versionRow.state_version),
      ownerId: group.owner_id,
      mutedAll: Number(group.muted_all) === 1,
      dismissed: group.dismissed_at !== null,
      memberLimit: Number(group.member_limit),
      members: new Map(),
      departed: new Set(),
      audience: [],
    };
    for (const row of rows) {
      if (row.left_at !== null) state.departed.add(row.user_id);
      else {
        state.members.set(row.user_id, { role: row.role as GroupRole, mutedUntil: row.muted_until === null ? null : Number(row.muted_until) });
        state.audience.push(row.user_id);
      }
    }
    return state;
  }

  /** The user's member row, current or departed. */
  memberRow(conversationId: string, userId: string) {
    return this.db
      .selectFrom('conversation_members')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
  }

  /** Current members' ids as `trx` sees them: the audience of a change, read inside its transaction (cluster outbox). */
  async activeMemberIds(trx: Transaction<DB>, conversationId: string): Promise<string[]> {
    const rows = await trx.selectFrom('conversation_members').select('user_id').where('conversation_id', '=', conversationId).where('left_at', 'is', null).execute();
    return rows.map((r) => r.user_id);
  }

  activeMembers(conversationId: string) {
    return this.db
      .selectFrom('conversation_members')
      .select(['user_id', 'role', 'joined_at', 'muted_until'])
      .where('conversation_id', '=', conversationId)
      .where('left_at', 'is', null)
      .orderBy('joined_at', 'asc')
      .execute();
  }

  /** Creates the conversation, its settings and the initial memberships in one transaction. */
  async createGroup(group: { id: string; name: string; description: string; avatar: string; ownerId: string; memberLimit: number; memberIds: string[]; now: number }) {
    await inTransaction(this.db, async (trx) => {
      const { id, now } = group;
      await trx.insertInto('conversations').values({ id, kind: 'group', direct_key: null, last_seq: 0, created_at: now, updated_at: now }).execute();
      await trx
        .insertInto('groups')
        .values({
          conversation_id: id,
          name: group.name,
          description: group.description,
          avatar: group.avatar,
          announcement: '',
          join_mode: 'approval',
          member_limit: group.memberLimit,
          owner_id: group.ownerId,
          invite_code: null,
          invite_created_at: null,
          dismissed_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await trx
        .insertInto('conversation_members')
        .values(
          [group.ownerId, ...group.memberIds].map((userId) => ({
            conversation_id: id,
            user_id: userId,
            read_seq: 0,
            joined_at: now,
            role: userId === group.ownerId ? 'owner' : 'member',
          })),
        )
        .execute();
    });
  }

  /**
   * Adds or re-admits members at `seq` (their join message): they read from that message on, with no stale
   * role or mute from an earlier membership (BR-12). The limit is checked in the same transaction, so
   * concurrent joins cannot pass it. Returns false when the limit would be exceeded.
   */
  async admit(trx: Trx, conversationId: string, userIds: string[], seq: number, now: number, limit: number): Promise<boolean> {
    for (const userId of userIds) {
      const fresh = { read_seq: seq - 1, joined_at: now, role: 'member', muted_until: null, left_at: null, left_reason: null, visible_from_seq: seq - 1, visible_until_seq: null };
      const updated = await trx
        .updateTable('conversation_members')
        .set(fresh)
        .where('conversation_id', '=', conversationId)
        .where('user_id', '=', userId)
        .where('left_at', 'is not', null)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        await trx.insertInto('conversation_members').values({ conversation_id: conversationId, user_id: userId, ...fresh }).execute();
      }
    }
    return (await this.activeCount(trx, conversationId)) <= limit;
  }

  async activeCount(trx: Trx, conversationId: string): Promise<number> {
    const row = await trx
      .selectFrom('conversation_members')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('conversation_id', '=', conversationId)
      .where('left_at', 'is', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Ends memberships at `seq`: the departing users keep reading up to and including that message. */
  async depart(trx: Trx, conversationId: string, userIds: string[] | 'all', reason: 'left' | 'removed' | 'dismissed', seq: number, now: number) {
    let query = trx
      .updateTable('conversation_members')
      .set({ left_at: now, left_reason: reason, visible_until_seq: seq, muted_until: null })
      .where('conversation_id', '=', conversationId)
      .where('left_at', 'is', null);
    if (userIds !== 'all') query = query.where('user_id', 'in', userIds);
    await query.execute();
  }

  /** True when the user is a current member, read inside the storing transaction (cluster-safe send check). */
  async isActiveMember(trx: Trx, conversationId: string, userId: string): Promise<boolean> {
    const row = await trx
      .selectFrom('conversation_members')
      .select('user_id')
      .where('conversation_id', '=', conversationId)
      .where('user_id', '=', userId)
      .where('left_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async setRole(trx: Trx, conversationId: string, userId: string, role: GroupRole): Promise<void> {
    await trx.updateTable('conversation_members').set({ role }).where('conversation_id', '=', conversationId).where('user_id', '=', userId).execute();
  }

  async setMute(trx: Trx, conversationId: string, userId: string, mutedUntil: number | null): Promise<void> {
    await trx.updateTable('conversation_members').set({ muted_until: mutedUntil }).where('conversation_id', '=', conversationId).where('user_id', '=', userId).execute();
  }

  /** A settings change that records no message (the member limit): the row and the state version together. */
  async updateSettingsOnly(conversationId: string, changes: Partial<Omit<GroupRow, 'conversation_id'>>, now: number): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      await bumpStateVersion(trx, conversationId);
      await this.updateGroup(trx, conversationId, changes, now);
    });
  }

  async updateGroup(trx: Trx, conversationId: string, changes: Partial<Omit<GroupRow, 'conversation_id'>>, now: number): Promise<void> {
    await trx.updateTable('groups').set({ ...changes, updated_at: now }).where('conversation_id', '=', conversationId).execute();
  }

  async insertMentions(trx: Trx, conversationId: string, seq: number, userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await trx.insertInto('message_mentions').values(userIds.map((userId) => ({ conversation_id: conversationId, seq, user_id: userId }))).execute();
  }

  /** Unread messages in (readSeq, untilSeq] that mention the user or everyone, not sent by the user. */
  async countMentions(conversationId: string, userId: string, readSeq: number, untilSeq: number): Promise<number> {
    const row = await this.db
      .selectFrom('message_mentions as mm')
      .innerJoin('messages as m', (join) => join.onRef('m.conversation_id', '=', 'mm.conversation_id').onRef('m.seq', '=', 'mm.seq'))
      .select((eb) => eb.fn.count('mm.seq').distinct().as('n'))
      .where('mm.conversation_id', '=', conversationId)
      .where('mm.user_id', 'in', [userId, '*'])
      .where('mm.seq', '>', readSeq)
      .where('mm.seq', '<=', untilSeq)
      .where('m.sender_id', '!=', userId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async setInviteCode(conversationId: string, code: string | null, now: number): Promise<void> {
    await this.db
      .updateTable('groups')
      .set({ invite_code: code, invite_created_at: code ? now : null, updated_at: now })
      .where('conversation_id', '=', conversationId)
      .execute();
  }

  findByInviteCode(code: string): Promise<GroupRow | undefined> {
    return this.db.selectFrom('groups').selectAll().where('invite_code', '=', code).executeTakeFirst();
  }

  async createJoinRequest(request: { id: string; conversationId: string; userId: string; inviterId: string | null; note: string; now: number }) {
    await this.db
      .insertInto('group_join_requests')
      .values({
        id: request.id,
        conversation_id: request.conversationId,
        user_id: request.userId,
        inviter_id: request.inviterId,
        note: request.note,
        status: 'pending',
        pending_key: `${request.conversationId}:${request.userId}`,
        created_at: request.now,
        updated_at: request.now,
      })
      .execute();
  }

  pendingRequests(conversationId: string) {
    return this.db
      .selectFrom('group_join_requests')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('status', '=', 'pending')
      .orderBy('created_at', 'asc')
      .execute();
  }

  findPendingRequest(conversationId: string, requestId: string) {
    return this.db
      .selectFrom('group_join_requests')
      .selectAll()
      .where('id', '=', requestId)
      .where('conversation_id', '=', conversationId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
  }

  async decideRequest(trx: Trx, requestId: string, status: 'approved' | 'rejected', now: number): Promise<boolean> {
    const result = await trx
      .updateTable('group_join_requests')
      .set({ status, pending_key: null, updated_at: now })
      .where('id', '=', requestId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Closes any pending request of users who have just been admitted another way. */
  async closeRequestsOf(trx: Trx, conversationId: string, userIds: string[], now: number): Promise<void> {
    if (userIds.length === 0) return;
    await trx
      .updateTable('group_join_requests')
      .set({ status: 'approved', pending_key: null, updated_at: now })
      .where('conversation_id', '=', conversationId)
      .where('user_id', 'in', userIds)
      .where('status', '=', 'pending')
      .execute();
  }
}
