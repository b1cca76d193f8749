import { createHash, randomUUID } from 'node:crypto';
import {
  checkMessageText,
  LIMITS,
  type ConversationSummary,
  type HistoryQuery,
  type HistoryResponse,
  type MarkReadResponse,
  type Message,
  type SendMessageRequest,
  type SendMessageResponse,
} from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { checkCanInteract } from '../contacts/contacts.policy.js';
import type { ContactRepository } from '../contacts/contacts.repository.js';
import { toUserPublic } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import { toMessage } from './conversations.mapper.js';
import { checkMember, peerOf, type Membership } from './conversations.policy.js';
import type { ConversationRepository, MessageRow } from './conversations.repository.js';

/** Conversations, the message pipeline (check, seq, store, ack, fan-out), history and read cursors. */
export class ConversationService {
  constructor(
    private readonly platform: Platform,
    private readonly repo: ConversationRepository,
    private readonly contacts: ContactRepository,
    private readonly users: UserRepository,
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
    const { conversation } = await this.membership(actor, conversationId);
    const limit = query.limit ?? LIMITS.historyPageDefault;
    const lastSeq = Number(conversation.last_seq);
    // `after` alone pages forward (catch-up); otherwise the page is the newest below `before`.
    const from = query.after !== undefined && query.before === undefined ? 'oldest' : 'newest';
    const { rows, hasMore } = await this.repo.page(conversationId, {
      after: query.after ?? 0,
      before: query.before ?? Number.MAX_SAFE_INTEGER,
      limit,
      from,
    });
    return {
      messages: rows.map(toMessage),
      hasMore,
      lastSeq,
      earliestAvailableSeq: lastSeq === 0 ? 0 : await this.repo.earliestSeq(conversationId),
    };
  }

  /**
   * The message pipeline. Checks, then assigns the next seq and stores in one transaction, and only then
   * acknowledges (returns) and fans out to every device of every member. A retry with the same client
   * message id returns the original message, forever (BR-03).
   */
  async sendMessage(actor: Actor, conversationId: string, input: SendMessageRequest): Promise<SendMessageResponse> {
    const contentHash = hashContent(conversationId, input);
    const existing = await this.repo.findMessageByClientId(actor.userId, input.clientMsgId);
    if (existing) return this.replay(existing, contentHash);

    const textError = checkMessageText(input.text);
    if (textError) throw new AppError(textError);
    const membership = await this.membership(actor, conversationId);
    await this.checkCanSend(actor, membership);
    const decision = await this.platform.limiter.consume(`send:${actor.userId}`, this.platform.config.limits.sendPerUser);
    if (!decision.allowed) throw new AppError('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs });

    let message: Message;
    try {
      message = await this.store(conversationId, actor.userId, input.clientMsgId, { kind: 'text', text: input.text }, contentHash);
    } catch (error) {
      // Two copies of the same send raced; the loser answers with the winner's message.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.repo.findMessageByClientId(actor.userId, input.clientMsgId);
      if (!winner) throw error;
      return this.replay(winner, contentHash);
    }
    await this.fanOut(membership, message, actor.connectionId);
    return { message, duplicate: false };
  }

  /**
   * Posts a message the server writes itself (a call record, a system event) into a conversation: the same
   * seq, storage and fan-out as a user's message, attributed to `senderId`, without the user-facing checks.
   * `content` is the kind and that kind's fields (see the Message union in the protocol).
   */
  async postServerMessage(conversationId: string, senderId: string, content: ServerMessageContent): Promise<Message> {
    const [conversation, members] = await Promise.all([this.repo.findConversation(conversationId), this.repo.members(conversationId)]);
    if (!conversation) throw new AppError('CONVERSATION_NOT_FOUND');
    const clientMsgId = `srv:${randomUUID()}`;
    const message = await this.store(conversationId, senderId, clientMsgId, content, hashContent(conversationId, content));
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: members.map((m) => m.user_id),
      frame: { type: 'message', message },
    });
    return message;
  }

  /** Assigns the next seq and stores, in one transaction (see ConversationRepository.appendMessage). */
  private async store(
    conversationId: string,
    senderId: string,
    clientMsgId: string,
    content: { kind: string; text?: string } & Record<string, unknown>,
    contentHash: string,
  ): Promise<Message> {
    const { kind, text, ...fields } = content;
    const row = {
      id: randomUUID(),
      conversationId,
      senderId,
      clientMsgId,
      kind,
      text: kind === 'text' ? (text ?? '') : null,
      payload: kind === 'text' ? null : JSON.stringify(fields),
      contentHash,
      createdAt: this.platform.now(),
    };
    const seq = await this.repo.appendMessage(row);
    return toMessage({
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
    });
  }

  /** After commit: every device of every member, except the socket that gets the ack instead. */
  private async fanOut(membership: Membership, message: Message, exceptConnectionId: string | undefined): Promise<void> {
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: membership.members.map((m) => m.user_id),
      frame: { type: 'message', message },
      ...(exceptConnectionId ? { exceptConnectionId } : {}),
    });
  }

  /** Moves the actor's read cursor forward; their other devices and the peer (read receipt) are told. */
  async markRead(actor: Actor, conversationId: string, seq: number): Promise<MarkReadResponse> {
    const membership = await this.membership(actor, conversationId);
    const lastSeq = Number(membership.conversation.last_seq);
    if (seq > lastSeq) throw new AppError('SEQ_OUT_OF_RANGE');
    const moved = await this.repo.advanceReadCursor(conversationId, actor.userId, seq);
    const readSeq = moved ? seq : Number(membership.self.read_seq);
    if (moved) {
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
    return { readSeq, unreadCount: await this.repo.countUnread(conversationId, actor.userId, readSeq) };
  }

  /**
   * Relays a typing indicator to the peer only; nothing is stored. Silently dropped when sending would be
   * refused (a block either way, or no longer friends).
   */
  async typing(actor: Actor, conversationId: string): Promise<void> {
    const membership = await this.membership(actor, conversationId);
    const peerId = peerOf(membership, actor.userId);
    const blocks = await this.contacts.blockState(actor.userId, peerId);
    if (blocks.blockedThem || blocks.blockedByThem) return;
    if (!(await this.contacts.findFriendship(actor.userId, peerId))) return;
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: [peerId],
      frame: { type: 'typing', conversationId, userId: actor.userId },
    });
  }

  private async membership(actor: Actor, conversationId: string): Promise<Membership> {
    const [conversation, members] = await Promise.all([
      this.repo.findConversation(conversationId),
      this.repo.members(conversationId),
    ]);
    return checkMember(
      conversation && { id: conversation.id, kind: conversation.kind, last_seq: Number(conversation.last_seq) },
      members.map((m) => ({ user_id: m.user_id, read_seq: Number(m.read_seq) })),
      actor.userId,
    );
  }

  /** One-to-one: only friends, and no block either way. */
  private async checkCanSend(actor: Actor, membership: Membership): Promise<void> {
    const peerId = peerOf(membership, actor.userId);
    checkCanInteract(await this.contacts.blockState(actor.userId, peerId));
    if (!(await this.contacts.findFriendship(actor.userId, peerId))) throw new AppError('NOT_FRIENDS');
  }

  private replay(existing: MessageRow, contentHash: string): SendMessageResponse {
    if (existing.content_hash !== contentHash) throw new AppError('CLIENT_MSG_ID_CONFLICT');
    return { message: toMessage(existing), duplicate: true };
  }

  private async summarize(userId: string, conversationId: string): Promise<ConversationSummary | null> {
    const [conversation, members] = await Promise.all([this.repo.findConversation(conversationId), this.repo.members(conversationId)]);
    const self = members.find((m) => m.user_id === userId);
    const peer = members.find((m) => m.user_id !== userId);
    if (!conversation || !self || !peer) return null;
    const [peerUser] = await this.users.findPublicByIds([peer.user_id]);
    if (!peerUser) return null;
    const lastSeq = Number(conversation.last_seq);
    const readSeq = Number(self.read_seq);
    const last = lastSeq > 0 ? await this.repo.findMessage(conversationId, lastSeq) : undefined;
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
}

/** Identifies what was sent, so a reused client id with different content is caught. */
function hashContent(conversationId: string, content: { kind: string; text?: string } & Record<string, unknown>): string {
  const body = content.kind === 'text' ? String(content.text) : JSON.stringify(content);
  return createHash('sha256').update(`${conversationId}\u0000${content.kind}\u0000${body}`).digest('hex');
}

/** What postServerMessage stores: a non-text kind and its fields. */
export type ServerMessageContent = { kind: string } & Record<string, unknown>;
