import { z } from 'zod';
import {
  AccountRoleSchema,
  GroupRoleSchema,
  Id,
  MessageSchema,
  RemovedMessageSchema,
  SessionSchema,
  Timestamp,
  UserPublicSchema,
} from './models.js';

/**
 * The admin API under `/api/v1/admin`: users, groups, message removal, the audit log and the dashboard. Every
 * endpoint needs an account with the role `admin` (checked by the server on each request); see
 * docs/architecture.md, "Administration".
 */

export const ADMIN_LIMITS = {
  /** The reason every admin action carries (recorded in the audit log). */
  reasonMax: 500,
  pageSizeDefault: 25,
  pageSizeMax: 100,
  /** Users one bulk disable may name. */
  bulkMax: 100,
  auditPageMax: 200,
  statsDaysMax: 90,
} as const;

/** Why the admin acts: required, shown in the audit log (and, for a disabled group, to its members). */
export const AdminReasonSchema = z
  .string()
  .trim()
  .min(1, 'required')
  .max(ADMIN_LIMITS.reasonMax, `at most ${ADMIN_LIMITS.reasonMax} characters`);

export const AdminActionRequestSchema = z.object({ reason: AdminReasonSchema });
export type AdminActionRequest = z.infer<typeof AdminActionRequestSchema>;

const Page = z.coerce.number().int().min(1).max(1_000_000).optional();
const PageSize = z.coerce.number().int().min(1).max(ADMIN_LIMITS.pageSizeMax).optional();
const Search = z.string().trim().max(100).optional();

// ---- users ----
export const AccountStatusSchema = z.enum(['active', 'disabled', 'deleted']);
export type AccountStatus = z.infer<typeof AccountStatusSchema>;

export const AdminUserSchema = z.object({
  user: UserPublicSchema,
  role: AccountRoleSchema,
  status: AccountStatusSchema,
  createdAt: Timestamp,
  lastSeenAt: Timestamp.nullable(),
  disabledAt: Timestamp.nullable(),
  deletedAt: Timestamp.nullable(),
  /** Has at least one live connection now (on any node). */
  online: z.boolean(),
  /** A password reset is waiting to be replaced by the user. */
  mustChangePassword: z.boolean(),
});
export type AdminUser = z.infer<typeof AdminUserSchema>;

/** The answer of an action on one account: the account after it. */
export const AdminUserResultSchema = z.object({ user: AdminUserSchema });

/** `status` defaults to every account that is not deleted; `all` includes deleted ones. */
export const AdminUserListQuerySchema = z.object({
  q: Search,
  status: z.enum(['active', 'disabled', 'deleted', 'all']).optional(),
  role: AccountRoleSchema.optional(),
  page: Page,
  pageSize: PageSize,
});
export type AdminUserListQuery = z.infer<typeof AdminUserListQuerySchema>;

export const AdminUserListResponseSchema = z.object({
  users: z.array(AdminUserSchema),
  total: z.number().int().nonnegative(),
  page: z.number().int().positive(),
  pageSize: z.number().int().positive(),
});
export type AdminUserListResponse = z.infer<typeof AdminUserListResponseSchema>;

/** A signed-in device of the user (as in their own session list, without `current`). */
export const AdminSessionSchema = SessionSchema.omit({ current: true });
export type AdminSession = z.infer<typeof AdminSessionSchema>;

export const AdminUserGroupSchema = z.object({
  conversationId: Id,
  name: z.string(),
  role: GroupRoleSchema,
  joinedAt: Timestamp,
});

export const AdminUserConversationSchema = z.object({
  conversationId: Id,
  peer: UserPublicSchema,
  lastSeq: z.number().int().nonnegative(),
});

export const AdminUserDetailsSchema = AdminUserSchema.extend({
  /** Live sessions (signed-in devices). */
  sessions: z.array(AdminSessionSchema),
  /** Groups the user is a current member of. */
  groups: z.array(AdminUserGroupSchema),
  /** One-to-one conversations, for finding a message to remove. */
  conversations: z.array(AdminUserConversationSchema),
});
export type AdminUserDetails = z.infer<typeof AdminUserDetailsSchema>;
export const AdminUserResponseSchema = z.object({ user: AdminUserDetailsSchema });

export const AdminSetRoleRequestSchema = z.object({ role: AccountRoleSchema, reason: AdminReasonSchema });
export type AdminSetRoleRequest = z.infer<typeof AdminSetRoleRequestSchema>;

export const AdminBulkDisableRequestSchema = z.object({
  userIds: z.array(Id).min(1).max(ADMIN_LIMITS.bulkMax),
  reason: AdminReasonSchema,
});
export type AdminBulkDisableRequest = z.infer<typeof AdminBulkDisableRequestSchema>;

/** `skipped`: users left as they were, with the code saying why (already disabled, yourself, not found). */
export const AdminBulkDisableResponseSchema = z.object({
  disabled: z.array(Id),
  skipped: z.array(z.object({ userId: Id, code: z.string() })),
});
export type AdminBulkDisableResponse = z.infer<typeof AdminBulkDisableResponseSchema>;

/** Shown once to the admin; the server keeps only its hash. The user must replace it at the next sign-in. */
export const AdminResetPasswordResponseSchema = z.object({ oneTimePassword: z.string() });
export type AdminResetPasswordResponse = z.infer<typeof AdminResetPasswordResponseSchema>;

// ---- groups ----
export const AdminGroupStatusSchema = z.enum(['active', 'disabled', 'dismissed']);
export type AdminGroupStatus = z.infer<typeof AdminGroupStatusSchema>;

export const AdminGroupSchema = z.object({
  conversationId: Id,
  name: z.string(),
  owner: UserPublicSchema.nullable(),
  memberCount: z.number().int().nonnegative(),
  status: AdminGroupStatusSchema,
  createdAt: Timestamp,
  lastActivityAt: Timestamp,
  lastSeq: z.number().int().nonnegative(),
  disabledAt: Timestamp.nullable(),
  disabledReason: z.string().nullable(),
  dismissedAt: Timestamp.nullable(),
});
export type AdminGroup = z.infer<typeof AdminGroupSchema>;

export const AdminGroupResultSchema = z.object({ group: AdminGroupSchema });

export const AdminGroupListQuerySchema = z.object({
  q: Search,
  status: z.enum(['active', 'disabled', 'dismissed', 'all']).optional(),
  page: Page,
  pageSize: PageSize,
});
export type AdminGroupListQuery = z.infer<typeof AdminGroupListQuerySchema>;

export const AdminGroupListResponseSchema = z.object({
  groups: z.array(AdminGroupSchema),
  total: z.number().int().nonnegative(),
  page: z.number().int().positive(),
  pageSize: z.number().int().positive(),
});
export type AdminGroupListResponse = z.infer<typeof AdminGroupListResponseSchema>;

export const AdminGroupDetailsSchema = AdminGroupSchema.extend({
  description: z.string(),
  members: z.array(z.object({ user: UserPublicSchema, role: GroupRoleSchema, joinedAt: Timestamp })),
});
export type AdminGroupDetails = z.infer<typeof AdminGroupDetailsSchema>;
export const AdminGroupResponseSchema = z.object({ group: AdminGroupDetailsSchema });

// ---- messages ----
/** A page of a conversation for moderation, newest first from `before` (the admin's read is audited). */
export const AdminMessagesQuerySchema = z.object({
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});
export type AdminMessagesQuery = z.infer<typeof AdminMessagesQuerySchema>;

export const AdminMessagesResponseSchema = z.object({
  messages: z.array(MessageSchema),
  hasMore: z.boolean(),
  lastSeq: z.number().int().nonnegative(),
  /** The senders of the messages on the page, for names. */
  users: z.array(UserPublicSchema),
});
export type AdminMessagesResponse = z.infer<typeof AdminMessagesResponseSchema>;

export const AdminMessageParamsSchema = z.object({ id: Id, seq: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

export const AdminRemoveMessageResponseSchema = z.object({ message: RemovedMessageSchema });
export type AdminRemoveMessageResponse = z.infer<typeof AdminRemoveMessageResponseSchema>;

// ---- audit log ----
export const AUDIT_ACTIONS = [
  'user.role_granted',
  'user.role_revoked',
  'user.disabled',
  'user.enabled',
  'user.signed_out',
  'user.password_reset',
  'user.deleted',
  'group.disabled',
  'group.enabled',
  'group.deleted',
  'message.removed',
  'conversation.viewed',
] as const;
export const AuditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditActionSchema>;

export const AuditTargetTypeSchema = z.enum(['user', 'group', 'conversation', 'message']);
export type AuditTargetType = z.infer<typeof AuditTargetTypeSchema>;

/** How the action came in: the admin API, the `admin` command, or KKCHAT_ADMIN_USERNAMES at start. */
export const AuditViaSchema = z.enum(['api', 'cli', 'env']);

export const AuditEntrySchema = z.object({
  id: Id,
  createdAt: Timestamp,
  /** The admin who acted; null for the command line and the start-up bootstrap (see `via`). */
  actor: UserPublicSchema.nullable(),
  via: AuditViaSchema,
  action: AuditActionSchema,
  targetType: AuditTargetTypeSchema,
  targetId: z.string(),
  /** The target's name when the log is read (a user's display name, a group's name), or null. */
  targetLabel: z.string().nullable(),
  reason: z.string(),
  /** Action-specific facts (e.g. the seq of a removed message, the former username of a deleted account). */
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export const AuditQuerySchema = z.object({
  actorId: Id.optional(),
  action: AuditActionSchema.optional(),
  targetId: z.string().max(140).optional(),
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
  /** The `nextCursor` of the previous page. */
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(ADMIN_LIMITS.auditPageMax).optional(),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

export const AuditListResponseSchema = z.object({ entries: z.array(AuditEntrySchema), nextCursor: z.string().nullable() });
export type AuditListResponse = z.infer<typeof AuditListResponseSchema>;

// ---- dashboard ----
export const AdminStatsQuerySchema = z.object({
  days: z.coerce.number().int().min(1).max(ADMIN_LIMITS.statsDaysMax).optional(),
  /** The admin's time zone as minutes east of UTC (UTC+8 is 480), so that "today" is their day. */
  tzOffsetMin: z.coerce.number().int().min(-840).max(840).optional(),
});
export type AdminStatsQuery = z.infer<typeof AdminStatsQuerySchema>;

export const DayCountSchema = z.object({ day: z.string(), count: z.number().int().nonnegative() });
export type DayCount = z.infer<typeof DayCountSchema>;

export const AdminStatsSchema = z.object({
  generatedAt: Timestamp,
  users: z.object({
    registered: z.number().int().nonnegative(),
    disabled: z.number().int().nonnegative(),
    admins: z.number().int().nonnegative(),
  }),
  onlineNow: z.number().int().nonnegative(),
  messagesToday: z.number().int().nonnegative(),
  /** Oldest day first, the last entry is today. */
  messagesPerDay: z.array(DayCountSchema),
  registrationsPerDay: z.array(DayCountSchema),
  groups: z.object({
    total: z.number().int().nonnegative(),
    /** With a message in the last 7 days, neither disabled nor dismissed. */
    active: z.number().int().nonnegative(),
    disabled: z.number().int().nonnegative(),
  }),
  /** Uploaded files; `available: false` (and `usedBytes: null`) until the server stores files. */
  storage: z.object({ available: z.boolean(), usedBytes: z.number().nonnegative().nullable() }),
});
export type AdminStats = z.infer<typeof AdminStatsSchema>;

export const AdminIdParamsSchema = z.object({ id: Id });
