import type { MessageRow } from '../conversations/conversations.repository.js';
import type { Trx } from '../groups/groups.repository.js';

/**
 * Extension points for modules that own data about an account or a message, so that administration follows their
 * rules without knowing them. The files module registers its own: what happens to a deleted account's uploads,
 * to the blob of a removed message, and how much storage is in use (docs/architecture.md, "Administration").
 */
export interface AdminHooks {
  /** Run inside the transaction that anonymises a deleted account. */
  accountDeleted: AccountDeletionHook[];
  /** Run inside the transaction that removes a message, with the row as it was before it was cleared. */
  messageRemoved: MessageRemovalHook[];
  /** Bytes of stored files; none registered means "not available" on the dashboard. */
  storageUsage: StorageUsage | null;
}

export type AccountDeletionHook = (trx: Trx, userId: string, now: number) => Promise<void>;
export type MessageRemovalHook = (trx: Trx, message: MessageRow, now: number) => Promise<void>;
export type StorageUsage = () => Promise<number>;

export function createAdminHooks(): AdminHooks {
  return { accountDeleted: [], messageRemoved: [], storageUsage: null };
}
