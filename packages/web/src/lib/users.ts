import type { UserPublic } from '@kkchat/protocol';

type Translate = (key: string) => string;

/**
 * The name shown for a user: a deleted account reads "Deleted user" in the reader's language (the server's
 * anonymised name is English), everyone else their display name or username.
 */
export function userName(user: Pick<UserPublic, 'displayName' | 'username'> & { deleted?: boolean }, t: Translate): string {
  if (user.deleted) return t('user.deleted');
  return user.displayName || user.username;
}
