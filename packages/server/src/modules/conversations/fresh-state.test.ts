import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { StaleStateError } from './conversations.repository.js';
import { MAX_STALE_RETRIES, withFreshState, type StateCache } from './fresh-state.js';

function countingCache(): StateCache<number> & { loads: number } {
  const cache = {
    loads: 0,
    version: 0,
    async get() {
      cache.loads++;
      return cache.version;
    },
    forget() {
      cache.version++;
    },
    age: () => 0,
  };
  return cache;
}

describe('withFreshState', () => {
  it('runs the task again on a fresh load when its store finds the state stale', async () => {
    const cache = countingCache();
    const seen: number[] = [];
    const result = await withFreshState('c1', cache, async (version) => {
      seen.push(version);
      if (seen.length < 3) throw new StaleStateError('c1');
      return `stored on version ${version}`;
    });
    expect(result).toBe('stored on version 2');
    expect(seen).toEqual([0, 1, 2]);
  });

  it('gives up with CONVERSATION_BUSY (never a server error) when every attempt is stale', async () => {
    const cache = countingCache();
    const error = await withFreshState('c1', cache, async () => {
      throw new StaleStateError('c1');
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('CONVERSATION_BUSY');
    expect((error as AppError).retryAfterMs).toBeGreaterThan(0);
    expect(cache.loads).toBe(MAX_STALE_RETRIES);
  });

  it('passes any other error through at once', async () => {
    const cache = countingCache();
    await expect(withFreshState('c1', cache, async () => Promise.reject(new AppError('GROUP_FULL')))).rejects.toMatchObject({ code: 'GROUP_FULL' });
    expect(cache.loads).toBe(1);
  });
});
