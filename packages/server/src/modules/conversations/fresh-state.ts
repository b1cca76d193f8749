import { AppError } from '../../errors.js';
import { StaleStateError } from './conversations.repository.js';

/**
 * Stores refused for a stale cached state before giving up. Each retry reloads the state and waits a random
 * moment first (exponential, full jitter, at most STALE_BACKOFF_MAX_MS): nodes changing one group at once, say
 * many people joining through its link on every node, then take turns instead of refusing each other again.
 */
export const MAX_STALE_RETRIES = 12;
const STALE_BACKOFF_BASE_MS = 5;
const STALE_BACKOFF_MAX_MS = 250;

/** A per-process cache of conversation state (groups.cache.ts, direct.cache.ts). */
export interface StateCache<S> {
  get(id: string): Promise<S>;
  forget(id: string): void;
  /** Milliseconds since the entry was loaded (Infinity when not held). */
  age(id: string): number;
}

/** A refusal on an entry younger than this stands without a reload (refused senders cannot make loads). */
const CONFIRM_AFTER_MS = 1000;

/**
 * Runs `task` with the conversation's cached state; when its store finds the state stale (changed on another
 * node), drops the entry and runs it again on a fresh load, so every check is re-made on current state.
 */
export async function withFreshState<S, T>(
  conversationId: string,
  cache: StateCache<S>,
  task: (state: S) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(await cache.get(conversationId));
    } catch (error) {
      if (!(error instanceof StaleStateError)) throw error;
      // Still contended after every retry: a clear refusal the client can retry, not a server error.
      if (attempt >= MAX_STALE_RETRIES) throw new AppError('CONVERSATION_BUSY', { retryAfterMs: STALE_BACKOFF_MAX_MS });
      cache.forget(conversationId);
      const ceiling = Math.min(STALE_BACKOFF_MAX_MS, STALE_BACKOFF_BASE_MS * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}

/**
 * Runs `check` on the cached state; a refusal is confirmed on a fresh load before it stands, so an entry
 * that another node's change made stale (say, an unblock whose invalidation is late) does not refuse wrongly.
 * An entry loaded within the last second is not reloaded: a refused sender hammering a group cannot turn each
 * refusal into a load of its member list.
 */
export async function confirmed<S>(conversationId: string, cache: StateCache<S>, check: (state: S) => unknown): Promise<void> {
  try {
    check(await cache.get(conversationId));
  } catch (error) {
    if (!(error instanceof AppError) || cache.age(conversationId) < CONFIRM_AFTER_MS) throw error;
    cache.forget(conversationId);
    check(await cache.get(conversationId));
  }
}
