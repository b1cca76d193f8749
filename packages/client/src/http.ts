import { AuthResultSchema, type AuthResult, type FieldError } from '@kkchat/protocol';
import { ACCOUNT_ENDED_ERRORS, ApiError, REFRESHABLE_AUTH_ERRORS, statusOf } from './errors.js';
import { startTimer } from './backoff.js';

/** Where the refresh token is kept between page loads / process runs. The default keeps it in memory. */
export interface TokenStore {
  get(): { refreshToken?: string } | null;
  set(value: { refreshToken?: string } | null): void;
}

/** TokenStore in memory: the session ends with the page or process. */
export class MemoryTokenStore implements TokenStore {
  private value: { refreshToken?: string } | null = null;
  get(): { refreshToken?: string } | null {
    return this.value;
  }
  set(value: { refreshToken?: string } | null): void {
    this.value = value;
  }
}

/** Anything with zod's safeParse; keeps this package free of a direct zod import. */
export interface Schema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: unknown };
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions<T> {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Validates the response body (when validateResponses is on); without it the parsed JSON is returned. */
  schema?: Schema<T>;
  /** false: send no Authorization header and never refresh (login, register, refresh). */
  auth?: boolean;
}

export interface HttpClientOptions {
  baseUrl: string;
  fetch?: typeof fetch;
  cookieMode?: boolean;
  tokenStore?: TokenStore;
  requestTimeoutMs?: number;
  /** Validate response bodies against the protocol schemas (default true). */
  validateResponses?: boolean;
  /**
   * Called after a refresh was refused with 401, or any request answered that the account was disabled or
   * deleted (`code`): the tokens are already cleared.
   */
  onAuthExpired?: (code: string | null) => void;
  /** Called whenever a new session or rotated tokens arrive. */
  onSession?: (auth: AuthResult) => void;
}

/** Refresh this long before the access token expires. */
const PROACTIVE_REFRESH_MS = 60_000;
/** A token with less validity than this is refreshed before it is used. */
const MIN_TOKEN_VALIDITY_MS = 5_000;
const REFRESH_RETRY_MS = 30_000;
const REFRESH_LOCK_NAME = 'kkchat-refresh';

/**
 * The REST transport: JSON to `${baseUrl}/api/v1/...`, bearer tokens, error bodies turned into ApiError, and
 * access-token refresh (on TOKEN_EXPIRED, proactively before expiry, single-flight and serialized across tabs).
 */
export class HttpClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly cookieMode: boolean;
  readonly tokenStore: TokenStore;
  private readonly timeoutMs: number;
  private readonly validate: boolean;
  private accessTokenValue: string | null = null;
  private accessTokenExpiresAt = 0;
  private refreshing: Promise<AuthResult> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly opts: HttpClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    const fetchFn = opts.fetch ?? globalThis.fetch;
    if (!fetchFn) throw new Error('KKChatClient: no fetch available; pass options.fetch');
    // Browsers throw "Illegal invocation" when fetch is called detached from window.
    this.fetchFn = opts.fetch ?? fetchFn.bind(globalThis);
    this.cookieMode = opts.cookieMode ?? false;
    this.tokenStore = opts.tokenStore ?? new MemoryTokenStore();
    this.timeoutMs = opts.requestTimeoutMs ?? 15_000;
    this.validate = opts.validateResponses ?? true;
  }

  get accessToken(): string | null {
    return this.accessTokenValue;
  }

  get isCookieMode(): boolean {
    return this.cookieMode;
  }

  /** True when a refresh can be attempted: cookie mode, or a stored refresh token. */
  canRefresh(): boolean {
    if (this.cookieMode) return hasSessionMarker();
    return Boolean(this.tokenStore.get()?.refreshToken);
  }

  /** Adopts a new session or rotated tokens and schedules the proactive refresh. */
  setSession(auth: AuthResult): void {
    this.accessTokenValue = auth.accessToken;
    this.accessTokenExpiresAt = auth.accessTokenExpiresAt;
    // Cookie mode: the server keeps the refresh token in an httpOnly cookie; it must never be readable by JS.
    if (!this.cookieMode) this.tokenStore.set({ refreshToken: auth.refreshToken });
    this.scheduleRefresh();
    this.opts.onSession?.(auth);
  }

  /** Forgets every token (sign-out, revoked session, refused refresh). */
  clearSession(): void {
    this.accessTokenValue = null;
    this.accessTokenExpiresAt = 0;
    this.tokenStore.set(null);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** Stops the proactive refresh timer without forgetting tokens. */
  stopTimers(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** Returns an access token valid for at least a few seconds, refreshing first when needed. */
  async freshAccessToken(force = false): Promise<string> {
    if (!force && this.accessTokenValue && this.accessTokenExpiresAt - Date.now() > MIN_TOKEN_VALIDITY_MS) {
      return this.accessTokenValue;
    }
    if (!this.accessTokenValue && !this.canRefresh()) throw ApiError.of('UNAUTHENTICATED');
    return (await this.refresh()).accessToken;
  }

  /**
   * Exchanges the refresh token for new tokens. Concurrent callers share one request; across browser tabs the
   * Web Locks API serializes refreshes, because a rotated refresh token used twice revokes the session.
   * A 401 answer clears the tokens and calls onAuthExpired.
   */
  refresh(): Promise<AuthResult> {
    if (!this.refreshing) {
      this.refreshing = this.refreshSerialized().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private refreshSerialized(): Promise<AuthResult> {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (locks && typeof locks.request === 'function') {
      // lib.dom types request()'s result as Promise<callback result>, i.e. a nested promise; at runtime it is flat.
      return locks.request(REFRESH_LOCK_NAME, () => this.refreshOnce()) as unknown as Promise<AuthResult>;
    }
    return this.refreshOnce();
  }

  private async refreshOnce(): Promise<AuthResult> {
    const hadSession = this.accessTokenValue !== null;
    // Read the stored token inside the lock: another tab may have rotated it while we waited.
    const refreshToken = this.cookieMode ? undefined : this.tokenStore.get()?.refreshToken;
    if (!this.cookieMode && !refreshToken) {
      if (hadSession) this.expire();
      throw ApiError.of('UNAUTHENTICATED');
    }
    try {
      const auth = await this.send('POST', '/auth/refresh', {
        body: refreshToken ? { refreshToken } : {},
        schema: AuthResultSchema,
        auth: false,
      });
      this.setSession(auth);
      return auth;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || ACCOUNT_ENDED_ERRORS.has(err.code))) {
        // Only a session that existed can expire; restore() without one just finds nobody signed in.
        if (hadSession) this.expire(err.code);
        else this.clearSession();
      }
      throw err;
    }
  }

  private expire(code: string | null = null): void {
    this.clearSession();
    this.opts.onAuthExpired?.(code);
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const lifetime = this.accessTokenExpiresAt - Date.now();
    // Short-lived tokens (tests, strict deployments) refresh at half-life instead.
    const lead = lifetime > 2 * PROACTIVE_REFRESH_MS ? PROACTIVE_REFRESH_MS : lifetime / 2;
    this.refreshTimer = startTimer(() => this.proactiveRefresh(), Math.max(0, lifetime - lead));
  }

  private proactiveRefresh(): void {
    this.refreshTimer = null;
    if (!this.accessTokenValue || !this.canRefresh()) return;
    this.refresh().catch((err: unknown) => {
      // 401 already ended the session; anything else (offline, 5xx) is retried later.
      if (err instanceof ApiError && err.status === 401) return;
      if (this.accessTokenValue) this.refreshTimer = startTimer(() => this.proactiveRefresh(), REFRESH_RETRY_MS);
    });
  }

  /**
   * Sends one API request. An authenticated request answered 401 TOKEN_EXPIRED/TOKEN_INVALID is retried once
   * after a refresh.
   */
  async request<T>(method: HttpMethod, path: string, opts: RequestOptions<T> = {}): Promise<T> {
    if (opts.auth === false) return this.send(method, path, opts);
    const stale = this.accessTokenValue !== null && this.accessTokenExpiresAt - Date.now() < MIN_TOKEN_VALIDITY_MS;
    // Cookie mode without an access token cannot know whether a cookie exists: it just tries the request.
    const missing = this.accessTokenValue === null && !this.cookieMode;
    // After a sleep the proactive timer may not have fired yet: refresh before using a stale token.
    if ((stale || missing) && this.canRefresh()) await this.refresh();
    try {
      return await this.send(method, path, opts);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && REFRESHABLE_AUTH_ERRORS.has(err.code) && this.canRefresh()) {
        await this.refresh();
        return this.send(method, path, opts);
      }
      // An administrator ended the account: this session is over, whatever the request was.
      if (err instanceof ApiError && ACCOUNT_ENDED_ERRORS.has(err.code) && this.accessTokenValue !== null) this.expire(err.code);
      throw err;
    }
  }

  private async send<T>(method: HttpMethod, path: string, opts: RequestOptions<T>): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.auth !== false && this.accessTokenValue) headers.authorization = `Bearer ${this.accessTokenValue}`;
    const controller = new AbortController();
    const timer = startTimer(() => controller.abort(), this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(this.url(path, opts.query), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: this.cookieMode ? 'same-origin' : 'omit',
        signal: controller.signal,
      });
      text = await response.text();
    } catch (err) {
      if (controller.signal.aborted) {
        throw ApiError.client('TIMEOUT', `${method} ${path}: no answer within ${this.timeoutMs} ms`, err);
      }
      throw ApiError.client('NETWORK_ERROR', `${method} ${path}: ${(err as Error)?.message ?? 'network error'}`, err);
    } finally {
      clearTimeout(timer);
    }
    const body = parseJson(text);
    if (!response.ok) throw errorFromResponse(response, body);
    if (!opts.schema || !this.validate || body === undefined) return body as T;
    const parsed = opts.schema.safeParse(body);
    if (!parsed.success) {
      throw ApiError.client('BAD_RESPONSE', `${method} ${path}: the response does not match the protocol`, parsed.error);
    }
    return parsed.data;
  }

  /** An absolute URL for a path on the server (`/api/v1/...`, as signed file links are given). */
  absoluteUrl(path: string): string {
    return /^[a-z]+:\/\//i.test(path) ? path : `${this.baseUrl}${path}`;
  }

  /** The configured fetch, for requests that are not JSON (upload parts). */
  rawFetch(url: string, init: RequestInit): Promise<Response> {
    return this.fetchFn(url, init);
  }

  private url(path: string, query?: Record<string, string | number | undefined>): string {
    let url = `${this.baseUrl}/api/v1${path}`;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    return url;
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface ErrorPayload {
  code?: unknown;
  message?: unknown;
  fields?: unknown;
  retryAfterMs?: unknown;
}

/** Turns an error response into ApiError; tolerates bodies that are not KKChat error bodies (proxies, 502s). */
export function errorFromResponse(response: Response, body: unknown): ApiError {
  const payload = (body as { error?: ErrorPayload } | undefined)?.error;
  const retryHeader = Number(response.headers.get('retry-after'));
  const retryAfterMs =
    typeof payload?.retryAfterMs === 'number'
      ? payload.retryAfterMs
      : Number.isFinite(retryHeader) && retryHeader > 0
        ? retryHeader * 1000
        : undefined;
  if (payload && typeof payload.code === 'string') {
    return new ApiError(
      payload.code,
      typeof payload.message === 'string' ? payload.message : payload.code,
      response.status,
      { fields: Array.isArray(payload.fields) ? (payload.fields as FieldError[]) : undefined, retryAfterMs },
    );
  }
  const code = response.status >= 500 ? (response.status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL') : `HTTP_${response.status}`;
  return new ApiError(code, `HTTP ${response.status}`, response.status || statusOf(code), { retryAfterMs });
}

/**
 * In a browser the server sets a readable `kkchat_session` cookie beside the httpOnly refresh cookie; without
 * it there is nothing to refresh. Outside a browser (no document) the marker cannot be seen, so assume yes.
 */
function hasSessionMarker(): boolean {
  const doc = (globalThis as { document?: { cookie?: string } }).document;
  if (!doc || typeof doc.cookie !== 'string') return true;
  return /(?:^|;\s*)kkchat_session=/.test(doc.cookie);
}
