import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from './rate-limiter.js';

describe('MemoryRateLimiter', () => {
  let now = 1_000_000;
  const limiters: MemoryRateLimiter[] = [];
  const make = () => {
    const limiter = new MemoryRateLimiter(() => now);
    limiters.push(limiter);
    return limiter;
  };
  afterEach(() => {
    for (const l of limiters.splice(0)) l.close();
    now = 1_000_000;
  });
  const limit = { limit: 3, windowMs: 3000 };

  it('allows up to the limit, then refuses with the time until one unit is back', async () => {
    const limiter = make();
    for (let i = 0; i < 3; i++) expect(await limiter.consume('k', limit)).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(await limiter.consume('k', limit)).toEqual({ allowed: false, retryAfterMs: 1000 });
    now += 400;
    expect(await limiter.consume('k', limit)).toEqual({ allowed: false, retryAfterMs: 600 });
  });

  it('refills continuously, never above the limit', async () => {
    const limiter = make();
    for (let i = 0; i < 3; i++) await limiter.consume('k', limit);
    now += 1000;
    expect((await limiter.consume('k', limit)).allowed).toBe(true);
    expect((await limiter.consume('k', limit)).allowed).toBe(false);
    now += 60_000;
    for (let i = 0; i < 3; i++) expect((await limiter.consume('k', limit)).allowed).toBe(true);
    expect((await limiter.consume('k', limit)).allowed).toBe(false);
  });

  it('keeps keys apart', async () => {
    const limiter = make();
    for (let i = 0; i < 3; i++) await limiter.consume('a', limit);
    expect((await limiter.consume('a', limit)).allowed).toBe(false);
    expect((await limiter.consume('b', limit)).allowed).toBe(true);
  });

  it('peek does not consume; reset forgets', async () => {
    const limiter = make();
    for (let i = 0; i < 5; i++) expect((await limiter.peek('k', limit)).allowed).toBe(true);
    for (let i = 0; i < 3; i++) await limiter.consume('k', limit);
    expect(await limiter.peek('k', limit)).toEqual({ allowed: false, retryAfterMs: 1000 });
    await limiter.reset('k');
    expect((await limiter.consume('k', limit)).allowed).toBe(true);
  });

  it('a refused request costs nothing', async () => {
    const limiter = make();
    for (let i = 0; i < 3; i++) await limiter.consume('k', limit);
    for (let i = 0; i < 10; i++) await limiter.consume('k', limit);
    now += 1000;
    expect((await limiter.consume('k', limit)).allowed).toBe(true);
  });

  it('handles a cost larger than one unit', async () => {
    const limiter = make();
    expect((await limiter.consume('k', limit, 2)).allowed).toBe(true);
    expect(await limiter.consume('k', limit, 2)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect((await limiter.consume('k', limit, 1)).allowed).toBe(true);
  });
});
