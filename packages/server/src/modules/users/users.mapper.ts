import type { UserPublic } from '@kkchat/protocol';
import type { Selectable } from 'kysely';
import type { UsersTable } from '../../platform/db/schema.js';

export type UserRow = Selectable<UsersTable>;

/** Columns needed to show a user to someone else (never the password hash). */
export const PUBLIC_USER_COLUMNS = ['id', 'username', 'display_name', 'bio', 'avatar', 'created_at', 'deleted_at'] as const;

/** What a deleted account shows as (the web app shows its own translation when `deleted` is set). */
export const DELETED_USER_NAME = 'Deleted user';

export function toUserPublic(row: Pick<UserRow, (typeof PUBLIC_USER_COLUMNS)[number]>): UserPublic {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    bio: row.bio,
    avatar: row.avatar,
    createdAt: Number(row.created_at),
    ...(row.deleted_at !== null ? { deleted: true } : {}),
  };
}
