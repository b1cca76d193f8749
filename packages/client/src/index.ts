export { KKChatClient } from './client.js';
export type { CallsApi, CallEvents } from './calls.js';
export type { KKChatClientOptions, ClientEvents } from './options.js';
export { ACCOUNT_ENDED_ERRORS, ApiError, CLIENT_ERROR_CODES, PERMANENT_SEND_ERRORS, type ClientErrorCode } from './errors.js';
export { HttpClient, MemoryTokenStore, type TokenStore, type HttpClientOptions } from './http.js';
export {
  Realtime,
  type ConnectionState,
  type WebSocketCtor,
  type WebSocketLike,
  type RealtimeDeps,
} from './realtime.js';
export { SyncEngine, type SyncDeps, type HistoryUnavailable } from './sync.js';
export { Outbox, type OutboxEntry, type OutboxDeps, type SendFrame, type MentionOptions } from './outbox.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { newClientMsgId, webSocketUrl } from './util.js';
export type { AuthApi, UsersApi, ContactsApi, ConversationsApi } from './api.js';
export type { GroupsApi } from './groups.js';
export type { AdminApi } from './admin.js';
export type { FilesApi, FileBody, UploadOptions, PartSender } from './files.js';
export type { OutboxContent } from './outbox.js';
