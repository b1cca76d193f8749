import { AppError } from '../../errors.js';
import { StaleStateError } from './conversations.repository.js';

/** Stores refused for a stale cached state before giving up (each retry reloads; a storm of changes is rare). */
export const MAX_STALE_RETRIES = 5;

/** A per-process cache of conversation state (groups.cache.ts, direct.cache.ts). */
export interface StateCache<S> {
  get(id: string): Promise<S>;
  forget(id: string): void;
}

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
      if (!(error instanceof StaleStateError) || attempt >= MAX_STALE_RETRIES) throw error;
      cache.forget(conversationId);
    }
  }
}

/**
 * Runs `check` on the cached state; a refusal is confirmed on a fresh load before it stands, so an entry
 * that another node's change made stale (say, an unblock whose invalidation is late) never refuses wrongly.
 */
export async function confirmed<S>(conversationId: string, cache: StateCache<S>, check: (state: S) => unknown): Promise<void> {
  try {
    check(await cache.get(conversationId));
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    cache.forget(conversationId);
    check(await cache.get(conversationId));
  }
}
