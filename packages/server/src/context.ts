import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { BlobStore } from './platform/blobs/blob-store.js';
import type { Database } from './platform/db/database.js';
import type { EventBus } from './platform/events/event-bus.js';
import type { EventOutbox } from './platform/events/outbox.js';
import type { PresenceStore } from './platform/presence/presence-store.js';
import type { RateLimiter } from './platform/ratelimit/rate-limiter.js';
import type { InvalidationChannel } from './platform/cache/invalidation.js';
import type { SharedCache } from './platform/cache/shared-cache.js';
import type { RedisConnection } from './platform/redis/connection.js';
import type { Metrics } from './platform/metrics/metrics.js';
import type { AuthService } from './modules/auth/auth.service.js';
import type { UserService } from './modules/users/users.service.js';
import type { ContactService } from './modules/contacts/contacts.service.js';
import type { ConversationService } from './modules/conversations/conversations.service.js';
import type { GroupService } from './modules/groups/groups.service.js';
import type { PresenceService } from './modules/gateway/presence.service.js';
import type { CallService } from './modules/calls/calls.service.js';
import type { AdminUserService } from './modules/admin/admin-users.service.js';
import type { AdminGroupService } from './modules/admin/admin-groups.service.js';
import type { AdminStatsService } from './modules/admin/admin-stats.service.js';
import type { AuditService } from './modules/admin/audit.service.js';
import type { FileService } from './modules/files/files.service.js';
import type { UploadService } from './modules/files/uploads.service.js';

/** Infrastructure the services run on; each piece has an embedded adapter and (later) a production one. */
export interface Platform {
  config: Config;
  db: Database;
  bus: EventBus;
  /** How events about stored messages leave: published after commit, or staged in the transaction (cluster). */
  outbox: EventOutbox;
  /** This process among the nodes (random per start): names its consumer group, relay and the calls it holds. */
  instanceId: string;
  presence: PresenceStore;
  limiter: RateLimiter;
  /** File bytes: local disk or S3 (KKCHAT_BLOB_STORE). */
  blobs: BlobStore;
  /** Session liveness seen alike by every node (auth.service.ts). */
  sessions: SharedCache;
  /** Tells the other nodes to drop cached state that changed here. */
  invalidation: InvalidationChannel;
  /** The Redis connection in cluster mode (readiness, metrics); null when embedded. */
  redis: RedisConnection | null;
  /** Prometheus metrics of this node (/metrics); the bus adapter reports consumer lag here. */
  metrics: Metrics;
  log: Logger;
  /** The clock; injectable so tests can move time. */
  now: () => number;
}

export interface Services {
  auth: AuthService;
  users: UserService;
  contacts: ContactService;
  conversations: ConversationService;
  groups: GroupService;
  presence: PresenceService;
  calls: CallService;
  adminUsers: AdminUserService;
  adminGroups: AdminGroupService;
  adminStats: AdminStatsService;
  audit: AuditService;
  files: FileService;
  uploads: UploadService;
}

/** Who is acting: always taken from the verified token, never from the request body. */
export interface Actor {
  userId: string;
  sessionId: string;
  /** Set when the action came over a WebSocket; lets fan-out skip the socket that already has the answer. */
  connectionId?: string;
}
