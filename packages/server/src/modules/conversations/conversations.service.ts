import { createHash, randomUUID } from 'node:crypto';
import {
  checkMessageText,
  LIMITS,
  type AttachmentContent,
  type ConversationSummary,
  type HistoryQuery,
  type HistoryResponse,
  type MarkReadResponse,
  type Message,
  type SendMessageRequest,
  type SendMessageResponse,
} from '@kkchat/protocol';
import type { Transaction } from 'kysely';
import type { Actor, Platform } from '../../context.js';
import type { DB } from '../../platform/db/schema.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { timeOrderedId } from '../../platform/ids.js';
import type { ContactRepository } from '../contacts/contacts.repository.js';
import { toUserPublic } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import { messageEvent, type Audience } from './conversations.events.js';
import { toMessage } from './conversations.mapper.js';
import { checkMember, peerOf, visibleRange, type Membership } from './conversations.policy.js';
import { type AppendOptions, type ConversationRepository, type MessageRow, type WithinStore } from './conversations.repository.js';
import { checkCanSendDirect, type DirectConversationCache } from './direct.cache.js';
import { confirmed, withFreshState } from './fresh-state.js';
import type { GroupMembershipCache } from '../groups/groups.cache.js';
import { checkActiveMember, checkCanPost } from '../groups/groups.policy.js';
import type { GroupRepository } from '../groups/groups.repository.js';
import { toGroupSummary } from '../groups/groups.mapper.js';

/** What the file module provides to the send path: the content of a file message and its attach step. */
export interface AttachmentPreparer {
  /** Checks the file (the sender's own, ready, fitting the kind); `attach` runs in the storing transaction. */
  prepareAttachment(actor: Actor, input: AttachmentContent, conversationId: string): Promise<{ content: ServerMessageContent; attach: WithinStore }>;
}

/** Conversations, the message pipeline (check, seq, store, ack, fan-out), history and read cursors. */
export class ConversationService {
  constructor(
    private readonly platform: Platform,
    private readonly repo: ConversationRepository,
    private readonly contacts: ContactRepository,
    private readonly users: UserRepository,
    private readonly groups: GroupMembershipCache,
    private readonly groupRepo: GroupRepository,
    private readonly direct: DirectConversationCache,
    private readonly attachments: AttachmentPreparer,
  ) {}

  async listConversations(actor: Actor): Promise<ConversationSummary[]> {
    const rows = await this.repo.listForUser(actor.userId);
    const summaries = await Promise.all(rows.map((row) => this.summarize(actor.userId, row.id)));
    return summaries.filter((s): s is ConversationSummary => s !== null);
  }

  async getConversation(actor: Actor, conversationId: string): Promise<ConversationSummary> {
    await this.membership(actor, conversationId);
    const summary = await this.summarize(actor.userId, conversationId);
    if (!summary) throw new AppError('CONVERSATION_NOT_FOUND');
    return summary;
  }

  /** The direct conversation with a friend. */
  async openDirect(actor: Actor, userId: string): Promise<ConversationSummary> {
    if (userId === actor.userId) throw new AppError('CANNOT_TARGET_SELF');
    const friendship = await this.contacts.findFriendship(actor.userId, userId);
    if (!friendship) throw new AppError('NOT_FRIENDS');
    return this.getConversation(actor, friendship.conversation_id);
  }

  async history(actor: Actor, conversationId: string, query: HistoryQuery): Promise<HistoryResponse> {
    const membership = await this.membership(actor, conversationId);
    const limit = query.limit ?? LIMITS.historyPageDefault;
    // A group member reads only what was posted while they were in (BR-12): (visible from, visible until].
    const visible = visibleRange(membership);
    const lastSeq = visible.until;
    // `after` alone pages forward (catch-up); otherwise the page is the newest below `before`.
    const from = query.after !== undefined && query.before === undefined ? 'oldest' : 'newest';
    const { rows, hasMore } = await this.repo.page(conversationId, {
      after: Math.max(query.after ?? 0, visible.from),
      before: Math.min(query.before ?? Number.MAX_SAFE_INTEGER, lastSeq + 1),
      limit,
      from,
    });
    return {
      messages: rows.map(toMessage),
      hasMore,
      lastSeq,
      earliestAvailableSeq: lastSeq === 0 ? 0 : Math.max(await this.repo.earliestSeq(conversationId), visible.from + 1),
    };
  }

  /**
   * The message pipeline. Checks, then assigns the next seq and stores in one transaction, and only then
   * acknowledges (returns) and fans out to every device of every member. A retry with the same client
   * message id returns the original message, forever (BR-03).
   */
  async sendMessage(actor: Actor, conversationId: string, input: SendMessageRequest): Promise<SendMessageResponse> {
    const contentHash = hashContent(conversationId, input.kind === 'text' ? input : { kind: input.kind, fileId: input.fileId, durationMs: input.durationMs ?? null });
    const existing = await this.repo.findMessageByClientId(actor.userId, input.clientMsgId);
    if (existing) return this.replay(existing, contentHash);

    let prepared: { content: ServerMessageContent; attach?: WithinStore } = { content: { kind: 'text', text: '' } };
    if (input.kind === 'text') {
      const textError = checkMessageText(input.text);
      if (textError) throw new AppError(textError);
    }
    const isGroup = (await this.groups.kindOf(conversationId)) === 'group';
    // Members, blocks and friendship come from the cache; the storing transaction refuses a stale entry.
    if (!isGroup) await confirmed(conversationId, this.direct, (state) => checkCanSendDirect(state, actor.userId));
    // The file is checked once the conversation is known to be the sender's (no probing of file ids through it).
    if (input.kind !== 'text') prepared = await this.attachments.prepareAttachment(actor, input, conversationId);
    if (isGroup) return this.sendGroupMessage(actor, conversationId, input, contentHash, prepared);
    await this.checkSendRate(actor);

    let stored: { message: Message; audience: string[] };
    try {
      stored = await withFreshState(conversationId, this.direct, async (state) => {
        checkCanSendDirect(state, actor.userId);
        const content = input.kind === 'text' ? { kind: 'text', text: input.text } : prepared.content;
        const audience = { userIds: [...state!.memberIds], exceptConnectionId: actor.connectionId };
        const { message } = await this.store(conversationId, actor.userId, input.clientMsgId, content, contentHash, audience, {
          expectedVersion: state!.version,
          ...(prepared.attach ? { within: prepared.attach } : {}),
        });
        return { message, audience: [...state!.memberIds] };
      });
    } catch (error) {
      // Two copies of the same send raced; the loser answers with the winner's message.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.repo.findMessageByClientId(actor.userId, input.clientMsgId);
      if (!winner) throw error;
      return this.replay(winner, contentHash);
    }
    this.countReceived(actor);
    await this.deliver(stored.audience, stored.message, actor.connectionId);
    return { message: stored.message, duplicate: false };
  }

  private countReceived(actor: Actor): void {
    this.platform.metrics.messagesReceived.inc({ transport: actor.connectionId ? 'ws' : 'rest' });
  }

  private async checkSendRate(actor: Actor): Promise<void> {
    const decision = await this.platform.limiter.consume(`send:${actor.userId}`, this.platform.config.limits.sendPerUser);
    if (!decision.allowed) throw new AppError('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs });
  }

  /**
   * The group branch of the pipeline. Membership comes from the in-memory cache (no database read on the hot
   * path); the check and the store run under the group's lock, so a concurrent removal either comes after the
   * message (which the removed member then still receives) or before it (the send is refused). Across nodes,
   * the storing transaction refuses a state older than the group's (the checks then run again on a fresh load,
   * so the audience is the membership at commit), re-checks the sender's member row, and records mentions.
   */
  private async sendGroupMessage(
    actor: Actor,
    conversationId: string,
    input: SendMessageRequest,
    contentHash: string,
    prepared: { content: ServerMessageContent; attach?: WithinStore },
  ): Promise<SendMessageResponse> {
    const mentionAll = input.kind === 'text' && input.mentionAll === true;
    await confirmed(conversationId, this.groups, (state) => checkCanPost(state, actor.userId, this.platform.now(), mentionAll));
    await this.checkSendRate(actor);
    let stored: { message: Message; audience: string[] };
    try {
      stored = await this.groups.withLock(conversationId, () =>
        withFreshState(conversationId, this.groups, async (state) => {
          checkCanPost(state, actor.userId, this.platform.now(), mentionAll);
          const mentions = input.kind === 'text' ? [...new Set(input.mentions ?? [])].filter((id) => id !== actor.userId && state!.members.has(id)) : [];
          const content =
            input.kind === 'text'
              ? { kind: 'text', text: input.text, ...(mentions.length > 0 ? { mentions } : {}), ...(mentionAll ? { mentionAll } : {}) }
              : prepared.content;
          const audience = { userIds: state!.audience, exceptConnectionId: actor.connectionId };
          const { message } = await this.store(conversationId, actor.userId, input.clientMsgId, content, contentHash, audience, {
            expectedVersion: state!.version,
            within: async (trx, seq) => {
              // Re-checked in the database: another node may have removed the sender or an administrator
              // disabled the group since this node's cache was loaded.
              const refusal = await this.groupRepo.postingRefusal(trx, conversationId, actor.userId);
              if (refusal) throw new AppError(refusal);
              await this.groupRepo.insertMentions(trx, conversationId, seq, mentionAll ? ['*'] : mentions);
              if (prepared.attach) await prepared.attach(trx, seq);
            },
          });
          return { message, audience: state!.audience };
        }),
      );
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.repo.findMessageByClientId(actor.userId, input.clientMsgId);
      if (!winner) throw error;
      return this.replay(winner, contentHash);
    }
    this.countReceived(actor);
    await this.deliver(stored.audience, stored.message, actor.connectionId);
    return { message: stored.message, duplicate: false };
  }

  /**
   * Stores a server-written message while the caller holds the group's lock, running `within` in the storing
   * transaction (a membership change that must commit with its system message). The change was checked against
   * the state of `expectedVersion` (StaleStateError when another node changed the group since) and bumps the
   * version. Returns the message, the audience after the change plus `alsoTo` (e.g. the member just removed,
   * who is told by this message), and the new version.
   */
  async storeServerMessage(
    conversationId: string,
    senderId: string,
    content: ServerMessageContent,
    within: WithinStore | undefined,
    alsoTo: string[],
    expectedVersion: number | undefined,
  ): Promise<{ message: Message; audience: string[]; version: number }> {
    const clientMsgId = `srv:${randomUUID()}`;
    // The audience after the change, as the change's own transaction sees it (read only in cluster mode).
    const audience = { userIds: async (trx: Transaction<DB>) => [...new Set([...(await this.groupRepo.activeMemberIds(trx, conversationId)), ...alsoTo])] };
    const { message, version } = await this.store(conversationId, senderId, clientMsgId, content, hashContent(conversationId, content), audience, {
      within,
      expectedVersion,
      bumpVersion: true,
    });
    this.groups.invalidate(conversationId);
    const state = await this.groups.get(conversationId);
    return { message, audience: [...new Set([...(state?.audience ?? []), ...alsoTo])], version };
  }

  /**
   * After commit: one frame, serialized once by the gateway, to every device of `userIds` except the socket that
   * got the ack. Embedded, this publishes now; in cluster mode the event was staged in the storing transaction
   * (`store`) and this only wakes the outbox relay.
   */
  async deliver(userIds: string[], message: Message, exceptConnectionId?: string): Promise<void> {
    await this.platform.outbox.committed(messageEvent(userIds, message, exceptConnectionId));
  }

  /**
   * Posts a message the server writes itself (a call record, a system event) into a conversation: the same
   * seq, storage and fan-out as a user's message, attributed to `senderId`, without the user-facing checks.
   * `content` is the kind and that kind's fields (see the Message union in the protocol).
   */
  async postServerMessage(conversationId: string, senderId: string, content: ServerMessageContent): Promise<Message> {
    if ((await this.groups.kindOf(conversationId)) === 'group') {
      const { message, audience } = await this.groups.withLock(conversationId, () => this.storeServerMessage(conversationId, senderId, content, undefined, [], undefined));
      await this.deliver(audience, message);
      return message;
    }
    const [conversation, members] = await Promise.all([this.repo.findConversation(conversationId), this.repo.members(conversationId)]);
    if (!conversation) throw new AppError('CONVERSATION_NOT_FOUND');
    const clientMsgId = `srv:${randomUUID()}`;
    const userIds = members.map((m) => m.user_id);
    const { message } = await this.store(conversationId, senderId, clientMsgId, content, hashContent(conversationId, content), { userIds });
    await this.deliver(userIds, message);
    return message;
  }

  /**
   * Assigns the next seq and stores, in one transaction (see ConversationRepository.appendMessage). In cluster
   * mode the message's delivery event to `audience` is written to the outbox in that transaction too.
   */
  private async store(
    conversationId: string,
    senderId: string,
    clientMsgId: string,
    content: { kind: string; text?: string } & Record<string, unknown>,
    contentHash: string,
    audience: Audience,
    options: AppendOptions = {},
  ): Promise<{ message: Message; version: number }> {
    const { kind, text, ...fields } = content;
    const hasFields = Object.keys(fields).length > 0;
    const row = {
      id: timeOrderedId(this.platform.now()),
      conversationId,
      senderId,
      clientMsgId,
      kind,
      text: kind === 'text' ? (text ?? '') : null,
      payload: kind === 'text' && !hasFields ? null : JSON.stringify(fields),
      contentHash,
      createdAt: this.platform.now(),
    };
    const messageAt = (seq: number) =>
      toMessage({
        conversation_id: conversationId,
        seq,
        id: row.id,
        sender_id: senderId,
        client_msg_id: clientMsgId,
        kind,
        text: row.text,
        payload: row.payload,
        content_hash: contentHash,
        created_at: row.createdAt,
        removed_at: null,
      });
    const outbox = this.platform.outbox;
    const within = options.within;
    const staged: AppendOptions = outbox.transactional
      ? {
          ...options,
          within: async (trx, seq) => {
            if (within) await within(trx, seq);
            const userIds = typeof audience.userIds === 'function' ? await audience.userIds(trx) : audience.userIds;
            await outbox.stage(trx, messageEvent(userIds, messageAt(seq), audience.exceptConnectionId));
          },
        }
      : options;
    const { seq, version } = await this.repo.appendMessage(row, staged);
    return { message: messageAt(seq), version };
  }

  /** Moves the actor's read cursor forward; their other devices and the peer (read receipt) are told. */
  async markRead(actor: Actor, conversationId: string, seq: number): Promise<MarkReadResponse> {
    const membership = await this.membership(actor, conversationId);
    const lastSeq = visibleRange(membership).until;
    if (seq > lastSeq) throw new AppError('SEQ_OUT_OF_RANGE');
    const moved = await this.repo.advanceReadCursor(conversationId, actor.userId, seq);
    const readSeq = moved ? seq : Number(membership.self.read_seq);
    if (moved && membership.conversation.kind === 'group') {
      // Group read receipts would be one event per member per read; only the reader's other devices are told.
      await this.platform.bus.publish({
        kind: 'deliver',
        userIds: [actor.userId],
        frame: { type: 'read', conversationId, userId: actor.userId, seq },
        ...(actor.connectionId ? { exceptConnectionId: actor.connectionId } : {}),
      });
    } else if (moved) {
      // The receipt goes to the peer unless the reader has blocked them: like presence and profile changes,
      // a blocker's activity is not shown to the user they blocked.
      const peerId = peerOf(membership, actor.userId);
      const { blockedThem } = await this.contacts.blockState(actor.userId, peerId);
      await this.platform.bus.publish({
        kind: 'deliver',
        userIds: blockedThem ? [actor.userId] : membership.members.map((m) => m.user_id),
        frame: { type: 'read', conversationId, userId: actor.userId, seq },
        ...(actor.connectionId ? { exceptConnectionId: actor.connectionId } : {}),
      });
    }
    return { readSeq, unreadCount: await this.repo.countUnread(conversationId, actor.userId, readSeq, lastSeq) };
  }

  /**
   * Relays a typing indicator to the peer only; nothing is stored. Silently dropped when sending would be
   * refused (a block either way, or no longer friends).
   */
  async typing(actor: Actor, conversationId: string): Promise<void> {
    if ((await this.groups.kindOf(conversationId)) === 'group') {
      const state = await this.groups.get(conversationId);
      const member = checkActiveMember(state, actor.userId); // a departed member is told NOT_MEMBER (BR-11)
      if (member.mutedUntil !== null && member.mutedUntil > this.platform.now()) return;
      if (state!.mutedAll && member.role === 'member') return;
      if (state!.disabled) return;
      // In a large group typing would be a storm of hints nobody can attribute; only small groups relay it.
      if (state!.audience.length > GROUP_TYPING_MAX_MEMBERS) return;
      await this.platform.bus.publish({
        kind: 'deliver',
        userIds: state!.audience.filter((id) => id !== actor.userId),
        frame: { type: 'typing', conversationId, userId: actor.userId },
      });
      return;
    }
    const state = await this.direct.get(conversationId);
    if (!state?.memberIds.includes(actor.userId)) throw new AppError('CONVERSATION_NOT_FOUND');
    let peerId: string;
    try {
      peerId = checkCanSendDirect(state, actor.userId);
    } catch {
      return; // a block either way, or no longer friends: dropped without a word
    }
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: [peerId],
      frame: { type: 'typing', conversationId, userId: actor.userId },
    });
  }

  private async membership(actor: Actor, conversationId: string): Promise<Membership> {
    // A group reads only the viewer's own row (a large group's member list stays off this path).
    const isGroup = (await this.groups.kindOf(conversationId)) === 'group';
    const [conversation, members] = await Promise.all([
      this.repo.findConversation(conversationId),
      isGroup ? this.repo.member(conversationId, actor.userId) : this.repo.members(conversationId),
    ]);
    return checkMember(
      conversation && { id: conversation.id, kind: conversation.kind, last_seq: Number(conversation.last_seq) },
      members.map((m) => ({
        user_id: m.user_id,
        read_seq: Number(m.read_seq),
        left_at: m.left_at === null ? null : Number(m.left_at),
        visible_from_seq: Number(m.visible_from_seq),
        visible_until_seq: m.visible_until_seq === null ? null : Number(m.visible_until_seq),
      })),
      actor.userId,
    );
  }

  private replay(existing: MessageRow, contentHash: string): SendMessageResponse {
    if (existing.content_hash !== contentHash) throw new AppError('CLIENT_MSG_ID_CONFLICT');
    return { message: toMessage(existing), duplicate: true };
  }

  private async summarize(userId: string, conversationId: string): Promise<ConversationSummary | null> {
    if ((await this.groups.kindOf(conversationId)) === 'group') return this.summarizeGroup(userId, conversationId);
    const [conversation, members] = await Promise.all([this.repo.findConversation(conversationId), this.repo.members(conversationId)]);
    const self = members.find((m) => m.user_id === userId);
    const peer = members.find((m) => m.user_id !== userId);
    if (!conversation || !self || !peer) return null;
    const [peerUser] = await this.users.findPublicByIds([peer.user_id]);
    if (!peerUser) return null;
    const lastSeq = Number(conversation.last_seq);
    const readSeq = Number(self.read_seq);
    const last = lastSeq > 0 ? await this.repo.lastVisibleMessage(conversationId, lastSeq) : undefined;
    return {
      id: conversation.id,
      kind: 'direct',
      peer: toUserPublic(peerUser),
      lastSeq,
      readSeq,
      peerReadSeq: Number(peer.read_seq),
      unreadCount: readSeq >= lastSeq ? 0 : await this.repo.countUnread(conversationId, userId, readSeq),
      lastMessage: last ? toMessage(last) : null,
      updatedAt: Number(conversation.updated_at),
    };
  }

  /** A group as the viewer sees it: a departed member's counts and last message stop at their departure. */
  private async summarizeGroup(userId: string, conversationId: string): Promise<ConversationSummary | null> {
    const [conversation, [self], group, state] = await Promise.all([
      this.repo.findConversation(conversationId),
      this.repo.member(conversationId, userId),
      this.groupRepo.findGroup(conversationId),
      this.groups.get(conversationId),
    ]);
    if (!conversation || !self || !group || !state) return null;
    const until = self.visible_until_seq === null ? Number(conversation.last_seq) : Number(self.visible_until_seq);
    const readSeq = Number(self.read_seq);
    const unread = readSeq < until;
    const [unreadCount, mentionCount, last] = await Promise.all([
      unread ? this.repo.countUnread(conversationId, userId, readSeq, until) : 0,
      unread ? this.groupRepo.countMentions(conversationId, userId, readSeq, until) : 0,
      until > 0 ? this.repo.lastVisibleMessage(conversationId, until) : undefined,
    ]);
    return {
      id: conversation.id,
      kind: 'group',
      group: toGroupSummary(group, state, self),
      lastSeq: until,
      readSeq,
      peerReadSeq: 0,
      unreadCount,
      mentionCount,
      lastMessage: last ? toMessage(last) : null,
      updatedAt: Number(conversation.updated_at),
    };
  }
}

/** Groups larger than this do not relay typing indicators. */
export const GROUP_TYPING_MAX_MEMBERS = 200;

/** Identifies what was sent, so a reused client id with different content is caught. */
function hashContent(conversationId: string, content: { kind: string; text?: string } & Record<string, unknown>): string {
  const body = content.kind === 'text' ? String(content.text) : JSON.stringify(content);
  return createHash('sha256').update(`${conversationId}\u0000${content.kind}\u0000${body}`).digest('hex');
}

/** What postServerMessage stores: a non-text kind and its fields. */
export type ServerMessageContent = { kind: string } & Record<string, unknown>;
