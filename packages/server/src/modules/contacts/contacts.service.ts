import { randomUUID } from 'node:crypto';
import {
  cleanDisplayName,
  LIMITS,
  type AcceptFriendRequestResponse,
  type Block,
  type Contact,
  type FriendRequest,
  type FriendRequestListResponse,
  type UserSearchResult,
} from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { toUserPublic } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import { checkCanInteract } from './contacts.policy.js';
import type { ContactRepository, FriendRequestRow } from './contacts.repository.js';
import type { DirectConversationCache } from '../conversations/direct.cache.js';

/** Friend requests, friendships, blocks and user search. */
export class ContactService {
  constructor(
    private readonly platform: Platform,
    private readonly repo: ContactRepository,
    private readonly users: UserRepository,
    private readonly direct: DirectConversationCache,
  ) {}

  async searchUsers(actor: Actor, query: string, limit = 20): Promise<UserSearchResult[]> {
    const rows = await this.users.search(query.trim(), Math.min(limit, LIMITS.searchLimitMax));
    const relationships = await this.repo.relationships(actor.userId, rows.map((r) => r.id));
    return rows.map((row) => ({ user: toUserPublic(row), relationship: relationships.get(row.id) ?? 'none' }));
  }

  async listContacts(actor: Actor): Promise<Contact[]> {
    const rows = await this.repo.listFriends(actor.userId);
    const ids = rows.map((r) => r.id);
    const [online, blockedMe] = await Promise.all([this.platform.presence.online(ids), this.repo.blockedBy(actor.userId, ids)]);
    return rows.map((row) => ({
      user: toUserPublic(row),
      conversationId: row.conversation_id,
      since: Number(row.since),
      presence: presenceSeenBy(online.has(row.id), row.last_seen_at, blockedMe.get(row.id)),
    }));
  }

  async listRequests(actor: Actor): Promise<FriendRequestListResponse> {
    const [incoming, outgoing] = await Promise.all([
      this.repo.listPendingRequests(actor.userId, 'incoming'),
      this.repo.listPendingRequests(actor.userId, 'outgoing'),
    ]);
    return { incoming: await this.toRequests(incoming), outgoing: await this.toRequests(outgoing) };
  }

  /**
   * Sends a friend request. When the other user has already asked the actor, this accepts theirs instead
   * of creating a second, crossing request.
   */
  async sendFriendRequest(actor: Actor, targetId: string, note = ''): Promise<FriendRequest> {
    if (targetId === actor.userId) throw new AppError('CANNOT_TARGET_SELF');
    const target = await this.users.findById(targetId);
    if (!target || target.disabled_at !== null) throw new AppError('USER_NOT_FOUND');
    const decision = await this.platform.limiter.consume(
      `friend-request:${actor.userId}`,
      this.platform.config.limits.friendRequestPerUser,
    );
    if (!decision.allowed) throw new AppError('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs });
    checkCanInteract(await this.repo.blockState(actor.userId, targetId));
    if (await this.repo.findFriendship(actor.userId, targetId)) throw new AppError('ALREADY_FRIENDS');

    const crossing = await this.repo.findPendingRequest(targetId, actor.userId);
    if (crossing) return (await this.accept(actor, crossing)).request;

    const now = this.platform.now();
    const row = {
      id: randomUUID(),
      from_user_id: actor.userId,
      to_user_id: targetId,
      // Unpaired surrogates are dropped: the database cannot store them, so what was sent would differ from what is read back.
      // Shown next to the sender's name: cleaned like a name (no controls, bidi overrides or zero-width marks).
      note: [...cleanDisplayName(note)].slice(0, LIMITS.friendRequestNoteMax).join(''),
      created_at: now,
      updated_at: now,
    };
    try {
      await this.repo.insertRequest(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('FRIEND_REQUEST_EXISTS');
      throw error;
    }
    const request = await this.toRequest({ ...row, status: 'pending', pending_key: null });
    await this.publishRequest(request);
    return request;
  }

  async acceptFriendRequest(actor: Actor, requestId: string): Promise<AcceptFriendRequestResponse> {
    const row = await this.findRequestFor(actor, requestId, 'to');
    return this.accept(actor, row);
  }

  async rejectFriendRequest(actor: Actor, requestId: string): Promise<FriendRequest> {
    const row = await this.findRequestFor(actor, requestId, 'to');
    return this.close(row, 'rejected');
  }

  async cancelFriendRequest(actor: Actor, requestId: string): Promise<FriendRequest> {
    const row = await this.findRequestFor(actor, requestId, 'from');
    return this.close(row, 'cancelled');
  }

  /** Ends a friendship for both. The conversation's history stays readable; new messages are refused. */
  async removeFriend(actor: Actor, friendId: string): Promise<void> {
    const { removed, conversationId } = await this.repo.removeFriendship(actor.userId, friendId);
    if (!removed) throw new AppError('NOT_FRIENDS');
    if (conversationId) this.direct.invalidate(conversationId);
    await this.platform.bus.publish({ kind: 'deliver', userIds: [actor.userId], frame: { type: 'contact.removed', userId: friendId } });
    await this.platform.bus.publish({ kind: 'deliver', userIds: [friendId], frame: { type: 'contact.removed', userId: actor.userId } });
  }

  /**
   * Blocks a user: no requests or messages either way while it lasts; pending requests between them are
   * withdrawn. The blocked user is not told (BR: blocking does not leak beyond the refusal codes).
   */
  async blockUser(actor: Actor, targetId: string): Promise<void> {
    if (targetId === actor.userId) throw new AppError('CANNOT_TARGET_SELF');
    const target = await this.users.findById(targetId);
    if (!target) throw new AppError('USER_NOT_FOUND');
    const { closed, conversationId } = await this.repo.block(actor.userId, targetId, this.platform.now());
    if (conversationId) this.direct.invalidate(conversationId);
    // Only the blocker's devices learn that the requests went away; the blocked user's list updates on reload.
    for (const row of closed) {
      const request = await this.toRequest(row);
      await this.platform.bus.publish({ kind: 'deliver', userIds: [actor.userId], frame: { type: 'friend.request', request } });
    }
  }

  async unblockUser(actor: Actor, targetId: string): Promise<void> {
    const conversationId = await this.repo.unblock(actor.userId, targetId);
    if (conversationId) this.direct.invalidate(conversationId);
  }

  async listBlocks(actor: Actor): Promise<Block[]> {
    const rows = await this.repo.listBlocks(actor.userId);
    return rows.map((row) => ({ user: toUserPublic(row), createdAt: Number(row.blocked_at) }));
  }

  private async accept(actor: Actor, row: FriendRequestRow): Promise<AcceptFriendRequestResponse> {
    checkCanInteract(await this.repo.blockState(actor.userId, row.from_user_id === actor.userId ? row.to_user_id : row.from_user_id));
    const now = this.platform.now();
    const accepted = await this.repo.acceptRequest(row, now);
    if (!accepted) throw new AppError('FRIEND_REQUEST_NOT_PENDING');
    const { conversationId } = accepted;
    this.direct.invalidate(conversationId);
    const request = await this.toRequest({ ...row, status: 'accepted', pending_key: null, updated_at: now });
    await this.publishRequest(request);
    if (accepted.crossing) await this.publishRequest(await this.toRequest(accepted.crossing));

    const online = await this.platform.presence.online([request.from.id, request.to.id]);
    const lastSeen = await this.users.lastSeen([request.from.id, request.to.id]);
    const contactFor = (other: FriendRequest['from']): Contact => ({
      user: other,
      conversationId,
      since: now,
      presence: { online: online.has(other.id), lastSeenAt: lastSeen.get(other.id) ?? null },
    });
    const fromContact = contactFor(request.to);
    const toContact = contactFor(request.from);
    await this.platform.bus.publish({ kind: 'deliver', userIds: [request.from.id], frame: { type: 'contact.added', contact: fromContact } });
    await this.platform.bus.publish({ kind: 'deliver', userIds: [request.to.id], frame: { type: 'contact.added', contact: toContact } });
    return { request, contact: actor.userId === request.from.id ? fromContact : toContact };
  }

  private async close(row: FriendRequestRow, status: 'rejected' | 'cancelled'): Promise<FriendRequest> {
    const now = this.platform.now();
    if (!(await this.repo.closeRequest(row.id, status, now))) throw new AppError('FRIEND_REQUEST_NOT_PENDING');
    const request = await this.toRequest({ ...row, status, pending_key: null, updated_at: now });
    await this.publishRequest(request);
    return request;
  }

  /** A request the actor is party to on the given side; anything else looks like it does not exist. */
  private async findRequestFor(actor: Actor, requestId: string, side: 'from' | 'to'): Promise<FriendRequestRow> {
    const row = await this.repo.findRequest(requestId);
    const party = side === 'to' ? row?.to_user_id : row?.from_user_id;
    if (!row || party !== actor.userId) throw new AppError('FRIEND_REQUEST_NOT_FOUND');
    if (row.status !== 'pending') throw new AppError('FRIEND_REQUEST_NOT_PENDING');
    return row;
  }

  private async publishRequest(request: FriendRequest): Promise<void> {
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: [request.from.id, request.to.id],
      frame: { type: 'friend.request', request },
    });
  }

  private async toRequest(row: FriendRequestRow): Promise<FriendRequest> {
    return (await this.toRequests([row]))[0]!;
  }

  private async toRequests(rows: FriendRequestRow[]): Promise<FriendRequest[]> {
    const ids = [...new Set(rows.flatMap((r) => [r.from_user_id, r.to_user_id]))];
    const users = new Map((await this.users.findPublicByIds(ids)).map((u) => [u.id, toUserPublic(u)]));
    return rows.flatMap((row) => {
      const from = users.get(row.from_user_id);
      const to = users.get(row.to_user_id);
      if (!from || !to) return [];
      return [
        {
          id: row.id,
          from,
          to,
          note: row.note,
          status: row.status as FriendRequest['status'],
          createdAt: Number(row.created_at),
          updatedAt: Number(row.updated_at),
        },
      ];
    });
  }
}

/**
 * A friend's presence as the viewer may see it. A friend who blocked the viewer looks frozen at the moment of
 * the block: offline, last seen then (they were active, since they blocked), so the view neither updates nor
 * changes in a way that gives the block away.
 */
function presenceSeenBy(online: boolean, lastSeenAt: number | null, blockedAt: number | undefined) {
  const lastSeen = lastSeenAt === null ? null : Number(lastSeenAt);
  if (blockedAt === undefined) return { online, lastSeenAt: lastSeen };
  return { online: false, lastSeenAt: lastSeen === null ? blockedAt : Math.min(lastSeen, blockedAt) };
}
