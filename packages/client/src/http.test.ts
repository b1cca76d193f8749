import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuthResult } from '@kkchat/protocol';
import { HttpClient, MemoryTokenStore } from './http.js';
import { ApiError } from './errors.js';
import { backoffDelay } from './backoff.js';

const user = { id: 'u1', username: 'alice', displayName: 'Alice', bio: '', avatar: '', createdAt: 1 };

function authResult(n: number, ttlMs = 15 * 60_000): AuthResult {
  return {
    user,
    sessionId: 's1',
    accessToken: `at${n}`,
    accessTokenExpiresAt: Date.now() + ttlMs,
    refreshToken: `rt${n}`,
    refreshTokenExpiresAt: Date.now() + 86_400_000,
    role: 'user',
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers });

type Handler = (req: { method: string; path: string; body: unknown; auth: string | null; init: RequestInit }) => Response | Promise<Response>;

function fakeFetch(handler: Handler) {
  const calls: Array<{ method: string; path: string; body: unknown; auth: string | null; init: RequestInit }> = [];
  const fetchFn = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const req = {
      method: init.method ?? 'GET',
      path: url.pathname + url.search,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      auth: new Headers(init.headers).get('authorization'),
      init,
    };
    calls.push(req);
    await new Promise((resolve) => setTimeout(resolve, 1));
    return handler(req);
  }) as typeof fetch;
  return { fetchFn, calls };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('HttpClient', () => {
  it('turns error bodies into ApiError with code, status, fields and retryAfterMs', async () => {
    const { fetchFn } = fakeFetch(() =>
      json(400, { error: { code: 'VALIDATION_FAILED', message: 'bad', fields: [{ field: 'username', message: 'short' }] } }),
    );
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1/', fetch: fetchFn });
    const err = await http.request('POST', '/auth/register', { body: {}, auth: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED', status: 400, fields: [{ field: 'username', message: 'short' }] });

    const limited = fakeFetch(() => json(429, { error: { code: 'RATE_LIMITED', message: 'slow', retryAfterMs: 1500 } }));
    const http2 = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: limited.fetchFn });
    await expect(http2.request('GET', '/x', { auth: false })).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 1500 });
  });

  it('copes with error responses that are not KKChat bodies (proxy 502) and with network failures', async () => {
    const proxy = fakeFetch(() => new Response('<html>bad gateway</html>', { status: 502 }));
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: proxy.fetchFn });
    await expect(http.request('GET', '/users/me', { auth: false })).rejects.toMatchObject({ code: 'INTERNAL', status: 502 });
    const down = new HttpClient({
      baseUrl: 'http://127.0.0.1:1',
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    });
    await expect(down.request('GET', '/users/me', { auth: false })).rejects.toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
  });

  it('times out with TIMEOUT', async () => {
    const hang = ((_: unknown, init: RequestInit = {}) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(new Error('aborted'))))) as typeof fetch;
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: hang, requestTimeoutMs: 10 });
    await expect(http.request('GET', '/users/me', { auth: false })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('rejects a response that breaks the protocol with BAD_RESPONSE', async () => {
    const { fetchFn } = fakeFetch(() => json(200, { user: { id: 5 } }));
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: fetchFn });
    const schema = (await import('@kkchat/protocol')).UserResponseSchema;
    await expect(http.request('GET', '/users/me', { schema, auth: false })).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('on TOKEN_EXPIRED refreshes once for all concurrent requests and retries them', async () => {
    let current = 'at1';
    let refreshes = 0;
    const { fetchFn, calls } = fakeFetch(({ path, auth, body }) => {
      if (path === '/api/v1/auth/refresh') {
        refreshes++;
        expect(body).toEqual({ refreshToken: 'rt1' });
        current = 'at2';
        return json(200, authResult(2));
      }
      if (auth !== `Bearer ${current}`) return json(401, { error: { code: 'TOKEN_EXPIRED', message: 'expired' } });
      return json(200, { ok: path });
    });
    const store = new MemoryTokenStore();
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: fetchFn, tokenStore: store });
    http.setSession(authResult(1));
    current = 'at-rotated-by-server'; // every token we hold is now stale
    const results = await Promise.all([http.request('GET', '/a'), http.request('GET', '/b'), http.request('GET', '/c')]);
    expect(results).toEqual([{ ok: '/api/v1/a' }, { ok: '/api/v1/b' }, { ok: '/api/v1/c' }]);
    expect(refreshes).toBe(1);
    expect(http.accessToken).toBe('at2');
    expect(store.get()).toEqual({ refreshToken: 'rt2' });
    expect(calls.filter((c) => c.path === '/api/v1/a').map((c) => c.auth)).toEqual(['Bearer at1', 'Bearer at2']);
  });

  it('when the refresh is refused: clears the tokens and reports auth expiry once', async () => {
    const onAuthExpired = vi.fn();
    const { fetchFn } = fakeFetch(({ path }) =>
      path === '/api/v1/auth/refresh'
        ? json(401, { error: { code: 'REFRESH_TOKEN_REUSED', message: 'reused' } })
        : json(401, { error: { code: 'TOKEN_EXPIRED', message: 'expired' } }),
    );
    const store = new MemoryTokenStore();
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: fetchFn, tokenStore: store, onAuthExpired });
    http.setSession(authResult(1));
    const results = await Promise.allSettled([http.request('GET', '/a'), http.request('GET', '/b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(onAuthExpired).toHaveBeenCalledTimes(1);
    expect(http.accessToken).toBeNull();
    expect(store.get()).toBeNull();
  });

  it('refreshes proactively before the access token expires', async () => {
    let refreshes = 0;
    const { fetchFn } = fakeFetch(() => {
      refreshes++;
      return json(200, authResult(10 + refreshes, 60_000));
    });
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: fetchFn });
    http.setSession(authResult(1, 40)); // short-lived: refreshed at half-life
    await vi.waitFor(() => expect(refreshes).toBe(1));
    expect(http.accessToken).toBe('at11');
    http.stopTimers();
  });

  it('cookie mode: sends no refresh token, never stores one, and includes same-origin credentials', async () => {
    const { fetchFn, calls } = fakeFetch(() => json(200, authResult(2)));
    const store = new MemoryTokenStore();
    const set = vi.spyOn(store, 'set');
    // Relative URLs need a base in Node; the browser resolves them against the page.
    const relative = (async (input: string, init?: RequestInit) => fetchFn(new URL(input, 'http://127.0.0.1:5173'), init)) as typeof fetch;
    const cookieHttp = new HttpClient({ baseUrl: '', fetch: relative, cookieMode: true, tokenStore: store });
    expect(cookieHttp.canRefresh()).toBe(true);
    await cookieHttp.refresh();
    expect(calls[0]?.path).toBe('/api/v1/auth/refresh');
    expect(calls[0]?.body).toEqual({});
    expect(calls[0]?.init.credentials).toBe('same-origin');
    expect(set.mock.calls.every(([value]) => value === null)).toBe(true);
    expect(cookieHttp.accessToken).toBe('at2');
    cookieHttp.stopTimers();
  });

  it('serializes refreshes across tabs with navigator.locks when available', async () => {
    const request = vi.fn(async (_name: string, callback: () => Promise<unknown>) => callback());
    vi.stubGlobal('navigator', { locks: { request } });
    const { fetchFn } = fakeFetch(() => json(200, authResult(2)));
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: fetchFn });
    http.setSession(authResult(1));
    await http.refresh();
    expect(request).toHaveBeenCalledWith('kkchat-refresh', expect.any(Function));
    http.stopTimers();
  });

  it('refresh without any stored token fails with UNAUTHENTICATED and does not report expiry', async () => {
    const onAuthExpired = vi.fn();
    const http = new HttpClient({ baseUrl: 'http://127.0.0.1:1', fetch: fakeFetch(() => json(500, {})).fetchFn, onAuthExpired });
    await expect(http.refresh()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(onAuthExpired).not.toHaveBeenCalled();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const opts = { minDelayMs: 500, maxDelayMs: 15_000 };
    expect(backoffDelay(0, opts, () => 0.999)).toBe(499);
    expect(backoffDelay(3, opts, () => 0.999)).toBe(3996);
    expect(backoffDelay(20, opts, () => 0.999)).toBe(14985);
    expect(backoffDelay(5, opts, () => 0)).toBe(0);
  });
});
