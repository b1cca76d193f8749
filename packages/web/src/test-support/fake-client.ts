import { vi } from 'vitest';
import type { AuthResult, ConversationSummary, Message, RemovedMessage, UserPublic } from '@kkchat/protocol';
import type { ClientEvents } from '@kkchat/client';
import { setClient, type KKChatClient, type OutboxEntry } from '../sdk';

export function buildUser(id: string, overrides: Partial<UserPublic> = {}): UserPublic {
  return { id, username: id, displayName: id.toUpperCase(), bio: '', avatar: '', createdAt: 1_700_000_000_000, ...overrides };
}

export function buildMessage(conversationId: string, seq: number, senderId: string, text = `message ${seq}`): Message {
  return {
    id: `${conversationId}-m${seq}`,
    conversationId,
    seq,
    senderId,
    clientMsgId: `${conversationId}-cm${seq}`,
    createdAt: 1_700_000_000_000 + seq * 1000,
    kind: 'text',
    text,
  };
}

/** The tombstone of a message an administrator removed. */
export function buildRemoved(conversationId: string, seq: number, senderId: string): RemovedMessage {
  const { id, clientMsgId, createdAt } = buildMessage(conversationId, seq, senderId);
  return { id, conversationId, seq, senderId, clientMsgId, createdAt, kind: 'removed', removedAt: createdAt + 60_000 };
}

export function buildSummary(id: string, peer: UserPublic, overrides: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id,
    kind: 'direct',
    peer,
    lastSeq: 0,
    readSeq: 0,
    peerReadSeq: 0,
    unreadCount: 0,
    lastMessage: null,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

/**
 * A stand-in for KKChatClient: every call is a vi.fn with a harmless default, and `emit` plays a live event.
 * Installed as the app's client by `installFakeClient`.
 */
export function createFakeClient(me: UserPublic) {
  const handlers = new Map<string, Set<(payload: never) => void>>();
  let clientMsgSeq = 0;
  const fake = {
    user: me as UserPublic | null,
    state: 'online' as KKChatClient['state'],
    on: vi.fn(<E extends keyof ClientEvents>(event: E, handler: (payload: ClientEvents[E]) => void) => {
      const set = handlers.get(event) ?? new Set();
      handlers.set(event, set);
      set.add(handler as (payload: never) => void);
      return () => set.delete(handler as (payload: never) => void);
    }),
    emit<E extends keyof ClientEvents>(event: E, payload: ClientEvents[E]): void {
      for (const handler of handlers.get(event) ?? []) (handler as (p: ClientEvents[E]) => void)(payload);
    },
    connect: vi.fn(async () => undefined),
    disconnect: vi.fn(),
    auth: {
      register: vi.fn(),
      login: vi.fn(),
      logout: vi.fn(async () => undefined),
      refresh: vi.fn(),
      restore: vi.fn(async (): Promise<AuthResult | null> => null),
      sessions: vi.fn(async () => []),
      revokeSession: vi.fn(async () => undefined),
      changePassword: vi.fn(async () => undefined),
      renewPassword: vi.fn(),
    },
    users: { me: vi.fn(), updateProfile: vi.fn(), search: vi.fn(async () => []), get: vi.fn() },
    contacts: {
      list: vi.fn(async () => []),
      remove: vi.fn(async () => undefined),
      requests: vi.fn(async () => ({ incoming: [], outgoing: [] })),
      sendRequest: vi.fn(),
      accept: vi.fn(),
      reject: vi.fn(),
      cancel: vi.fn(),
      blocks: vi.fn(async () => []),
      block: vi.fn(async () => undefined),
      unblock: vi.fn(async () => undefined),
    },
    conversations: {
      list: vi.fn(async (): Promise<ConversationSummary[]> => []),
      get: vi.fn(),
      openDirect: vi.fn(),
      history: vi.fn(async () => ({ messages: [] as Message[], hasMore: false, lastSeq: 0, earliestAvailableSeq: 0 })),
      markRead: vi.fn(async (_id: string, seq: number) => ({ readSeq: seq, unreadCount: 0 })),
    },
    admin: {
      users: vi.fn(async () => ({ users: [], total: 0, page: 1, pageSize: 25 })),
      user: vi.fn(),
      setRole: vi.fn(),
      disable: vi.fn(),
      enable: vi.fn(),
      disableMany: vi.fn(),
      signOut: vi.fn(),
      resetPassword: vi.fn(),
      deleteUser: vi.fn(),
      groups: vi.fn(async () => ({ groups: [], total: 0, page: 1, pageSize: 25 })),
      group: vi.fn(),
      disableGroup: vi.fn(),
      enableGroup: vi.fn(),
      deleteGroup: vi.fn(),
      messages: vi.fn(),
      removeMessage: vi.fn(),
      audit: vi.fn(async () => ({ entries: [], nextCursor: null })),
      stats: vi.fn(),
    },
    sendText: vi.fn((conversationId: string, text: string): OutboxEntry => ({
      clientMsgId: `cm-${++clientMsgSeq}`,
      conversationId,
      text,
      kind: 'text',
      state: 'sending',
      attempts: 1,
      createdAt: Date.now(),
    })),
    retry: vi.fn(),
    discard: vi.fn(),
    outbox: vi.fn((): OutboxEntry[] => []),
    typing: vi.fn(),
    trackConversation: vi.fn(),
    cursor: vi.fn(),
  };
  return fake;
}

export type FakeClient = ReturnType<typeof createFakeClient>;

export function installFakeClient(me: UserPublic = buildUser('me')): FakeClient {
  const fake = createFakeClient(me);
  setClient(fake as unknown as KKChatClient);
  return fake;
}
