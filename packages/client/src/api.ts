import {
  AcceptFriendRequestResponseSchema,
  AuthResultSchema,
  BlockListResponseSchema,
  ContactListResponseSchema,
  ConversationListResponseSchema,
  ConversationResponseSchema,
  FriendRequestListResponseSchema,
  FriendRequestResponseSchema,
  HistoryResponseSchema,
  SendMessageResponseSchema,
  SessionListResponseSchema,
  UserResponseSchema,
  UserSearchResponseSchema,
  type AcceptFriendRequestResponse,
  type AuthResult,
  type Block,
  type ChangePasswordRequest,
  type Contact,
  type ConversationSummary,
  type FriendRequest,
  type FriendRequestListResponse,
  type HistoryQuery,
  type HistoryResponse,
  type LoginRequest,
  type MarkReadResponse,
  type RegisterRequest,
  type RenewPasswordRequest,
  type SendMessageRequest,
  type SendMessageResponse,
  type Session,
  type UpdateProfileRequest,
  type UserPublic,
  type UserSearchResult,
} from '@kkchat/protocol';
import { ApiError } from './errors.js';
import type { HttpClient } from './http.js';

/** Sign-in, sessions and password. */
export interface AuthApi {
  register(request: RegisterRequest): Promise<AuthResult>;
  login(request: LoginRequest): Promise<AuthResult>;
  /** Ends this session on the server (best effort) and forgets it locally in any case. */
  logout(): Promise<void>;
  refresh(): Promise<AuthResult>;
  /** Refreshes from the stored refresh token or the cookie; null when nobody is signed in. */
  restore(): Promise<AuthResult | null>;
  sessions(): Promise<Session[]>;
  revokeSession(id: string): Promise<void>;
  changePassword(request: ChangePasswordRequest): Promise<void>;
  /**
   * Signs in while replacing the password: what to do when login answered PASSWORD_CHANGE_REQUIRED (an
   * administrator reset the password).
   */
  renewPassword(request: RenewPasswordRequest): Promise<AuthResult>;
}

export interface UsersApi {
  me(): Promise<UserPublic>;
  updateProfile(request: UpdateProfileRequest): Promise<UserPublic>;
  search(q: string, limit?: number): Promise<UserSearchResult[]>;
  get(id: string): Promise<UserPublic>;
}

export interface ContactsApi {
  list(): Promise<Contact[]>;
  remove(userId: string): Promise<void>;
  requests(): Promise<FriendRequestListResponse>;
  sendRequest(userId: string, note?: string): Promise<FriendRequest>;
  accept(id: string): Promise<AcceptFriendRequestResponse>;
  reject(id: string): Promise<FriendRequest>;
  cancel(id: string): Promise<FriendRequest>;
  blocks(): Promise<Block[]>;
  block(userId: string): Promise<void>;
  unblock(userId: string): Promise<void>;
}

export interface ConversationsApi {
  list(): Promise<ConversationSummary[]>;
  get(id: string): Promise<ConversationSummary>;
  openDirect(userId: string): Promise<ConversationSummary>;
  /** One page of history; does not move the sync cursor (call trackConversation for that). */
  history(id: string, query?: HistoryQuery): Promise<HistoryResponse>;
  /** Moves the read cursor: over the WebSocket when online, else REST. */
  markRead(id: string, seq: number): Promise<MarkReadResponse>;
  /** Sends without the outbox (no retry); the message also flows through the 'message' event. */
  sendViaRest(id: string, request: SendMessageRequest): Promise<SendMessageResponse>;
}

/** Hooks the REST namespaces call back into the client with. */
export interface ApiHooks {
  deviceName?: string;
  onSignedOut(): void;
  onUser(user: UserPublic): void;
  onSentViaRest(response: SendMessageResponse): void;
  markRead(id: string, seq: number): Promise<MarkReadResponse>;
}

/** One path segment from an id; "." and ".." would move up the path once resolved, so they are refused. */
function seg(id: string): string {
  if (id === '' || id === '.' || id === '..') throw ApiError.of('VALIDATION_FAILED', `Invalid id "${id}".`);
  return encodeURIComponent(id);
}

export function createAuthApi(http: HttpClient, hooks: ApiHooks): AuthApi {
  const signIn = async (path: string, body: RegisterRequest | LoginRequest | RenewPasswordRequest): Promise<AuthResult> => {
    const withDevice = body.deviceName || !hooks.deviceName ? body : { ...body, deviceName: hooks.deviceName };
    const auth = await http.request('POST', path, { body: withDevice, schema: AuthResultSchema, auth: false });
    http.setSession(auth);
    return auth;
  };
  return {
    register: (request) => signIn('/auth/register', request),
    renewPassword: (request) => signIn('/auth/password/renew', request),
    login: (request) => signIn('/auth/login', request),
    async logout() {
      try {
        if (http.accessToken) await http.request('POST', '/auth/logout', { body: {} });
      } catch {
        // Signing out locally must work offline too; the server session then expires on its own.
      } finally {
        http.clearSession();
        hooks.onSignedOut();
      }
    },
    refresh: () => http.refresh(),
    async restore() {
      if (!http.canRefresh()) return null;
      try {
        return await http.refresh();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    sessions: async () => (await http.request('GET', '/auth/sessions', { schema: SessionListResponseSchema })).sessions,
    async revokeSession(id) {
      await http.request('DELETE', `/auth/sessions/${seg(id)}`);
    },
    async changePassword(request) {
      await http.request('POST', '/auth/password', { body: request });
    },
  };
}

export function createUsersApi(http: HttpClient, hooks: ApiHooks): UsersApi {
  return {
    async me() {
      const { user } = await http.request('GET', '/users/me', { schema: UserResponseSchema });
      hooks.onUser(user);
      return user;
    },
    async updateProfile(request) {
      const { user } = await http.request('PATCH', '/users/me', { body: request, schema: UserResponseSchema });
      hooks.onUser(user);
      return user;
    },
    search: async (q, limit) =>
      (await http.request('GET', '/users/search', { query: { q, limit }, schema: UserSearchResponseSchema })).users,
    get: async (id) => (await http.request('GET', `/users/${seg(id)}`, { schema: UserResponseSchema })).user,
  };
}

export function createContactsApi(http: HttpClient): ContactsApi {
  const requestAction = async (id: string, action: 'reject' | 'cancel'): Promise<FriendRequest> =>
    (await http.request('POST', `/friend-requests/${seg(id)}/${action}`, { body: {}, schema: FriendRequestResponseSchema }))
      .request;
  return {
    list: async () => (await http.request('GET', '/contacts', { schema: ContactListResponseSchema })).contacts,
    async remove(userId) {
      await http.request('DELETE', `/contacts/${seg(userId)}`);
    },
    requests: () => http.request('GET', '/friend-requests', { schema: FriendRequestListResponseSchema }),
    sendRequest: async (userId, note) =>
      (
        await http.request('POST', '/friend-requests', {
          body: note === undefined ? { userId } : { userId, note },
          schema: FriendRequestResponseSchema,
        })
      ).request,
    accept: (id) =>
      http.request('POST', `/friend-requests/${seg(id)}/accept`, { body: {}, schema: AcceptFriendRequestResponseSchema }),
    reject: (id) => requestAction(id, 'reject'),
    cancel: (id) => requestAction(id, 'cancel'),
    blocks: async () => (await http.request('GET', '/blocks', { schema: BlockListResponseSchema })).blocks,
    async block(userId) {
      await http.request('PUT', `/blocks/${seg(userId)}`, { body: {} });
    },
    async unblock(userId) {
      await http.request('DELETE', `/blocks/${seg(userId)}`);
    },
  };
}

export function createConversationsApi(http: HttpClient, hooks: ApiHooks): ConversationsApi {
  return {
    list: async () =>
      (await http.request('GET', '/conversations', { schema: ConversationListResponseSchema })).conversations,
    get: async (id) =>
      (await http.request('GET', `/conversations/${seg(id)}`, { schema: ConversationResponseSchema })).conversation,
    openDirect: async (userId) =>
      (await http.request('POST', '/conversations/direct', { body: { userId }, schema: ConversationResponseSchema }))
        .conversation,
    history: (id, query = {}) =>
      http.request('GET', `/conversations/${seg(id)}/messages`, {
        query: { before: query.before, after: query.after, limit: query.limit },
        schema: HistoryResponseSchema,
      }),
    markRead: (id, seq) => hooks.markRead(id, seq),
    async sendViaRest(id, request) {
      const response = await http.request('POST', `/conversations/${seg(id)}/messages`, {
        body: request,
        schema: SendMessageResponseSchema,
      });
      hooks.onSentViaRest(response);
      return response;
    },
  };
}
