import { randomUUID } from 'node:crypto';
import {
  CLOSE_CODES,
  type AccountRole,
  type AuthResult,
  type ChangePasswordRequest,
  type ErrorCode,
  type LoginRequest,
  type RegisterRequest,
  type RenewPasswordRequest,
  type Session,
} from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { toUserPublic, type UserRow } from '../users/users.mapper.js';
import type { UserRepository } from '../users/users.repository.js';
import { checkDisplayName } from '../users/users.service.js';
import type { AuthRepository } from './auth.repository.js';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './passwords.js';
import { AccessTokens, hashRefreshToken, newRefreshToken } from './tokens.js';

/** Where a request came from; recorded on the session so the user can recognise their devices. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
  deviceName?: string | undefined;
}

/** Accounts and sessions: registration, login, token refresh with rotation, logout, password change. */
export class AuthService {
  private readonly tokens: AccessTokens;

  constructor(
    private readonly platform: Platform,
    private readonly repo: AuthRepository,
    private readonly users: UserRepository,
  ) {
    this.tokens = new AccessTokens(platform.config.jwtSecret, platform.config.accessTokenTtlMs);
  }

  async register(request: RegisterRequest, client: ClientInfo): Promise<AuthResult> {
    await this.checkRate(`register:ip:${client.ip}`, this.platform.config.limits.registerPerIp, 'RATE_LIMITED');
    const displayName = checkDisplayName(request.displayName ?? request.username);
    const now = this.platform.now();
    const user = {
      id: randomUUID(),
      username: request.username,
      username_norm: request.username.toLowerCase(),
      display_name: displayName,
      bio: '',
      avatar: '',
      password_hash: await hashPassword(request.password),
      role: 'user',
      created_at: now,
      updated_at: now,
      last_seen_at: null,
      disabled_at: null,
      deleted_at: null,
      must_change_password: 0,
    } satisfies UserRow;
    try {
      await this.users.insert(user);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('USERNAME_TAKEN', { fields: [{ field: 'username', message: 'is taken' }] });
      }
      throw error;
    }
    return this.startSession((await this.users.findById(user.id)) ?? user, client);
  }

  /**
   * Checks the password, throttled per account and per IP: every attempt counts against the IP, failures
   * count against the account, and a success clears the account's failures. The account's token is taken
   * before the (slow) password check, not after it fails: otherwise attempts sent in parallel all pass the
   * check before any failure is counted, and the per-account limit does not hold.
   */
  async login(request: LoginRequest, client: ClientInfo): Promise<AuthResult> {
    const user = await this.checkCredentials(request.username, request.password, client);
    // A password an administrator set must be replaced first (renewPassword); nothing is issued with it.
    if (Number(user.must_change_password) === 1) throw new AppError('PASSWORD_CHANGE_REQUIRED');
    return this.startSession(user, client);
  }

  /**
   * Sign-in that replaces the password (after an administrator's reset, or any time): the same checks as login,
   * then the new password, every other session signed out, and a fresh session.
   */
  async renewPassword(request: RenewPasswordRequest, client: ClientInfo): Promise<AuthResult> {
    const user = await this.checkCredentials(request.username, request.password, client);
    if (request.newPassword === request.password) {
      throw new AppError('VALIDATION_FAILED', { fields: [{ field: 'newPassword', message: 'must differ from the current password' }] });
    }
    const now = this.platform.now();
    await this.users.replacePassword(user.id, await hashPassword(request.newPassword), now);
    await this.revokeAndDisconnect(await this.repo.otherActiveSessionIds(user.id, null, now), 'password_changed');
    return this.startSession({ ...user, must_change_password: 0 }, client);
  }

  /**
   * Checks the password, throttled per account and per IP (see login). Only a correct password learns that the
   * account is disabled, so the answer does not reveal which accounts are.
   */
  private async checkCredentials(username: string, password: string, client: ClientInfo): Promise<UserRow> {
    const { limits } = this.platform.config;
    const accountKey = `login:account:${username.toLowerCase()}`;
    await this.checkRate(`login:ip:${client.ip}`, limits.loginPerIp, 'LOGIN_THROTTLED');
    await this.checkRate(accountKey, limits.loginPerAccount, 'LOGIN_THROTTLED');

    const user = await this.users.findByUsername(username);
    const valid = user ? await verifyPassword(user.password_hash, password) : false;
    if (!user) await verifyAgainstDummy(password);
    if (!user || !valid || user.deleted_at !== null) throw new AppError('INVALID_CREDENTIALS');
    if (user.disabled_at !== null) throw new AppError('ACCOUNT_DISABLED');
    await this.platform.limiter.reset(accountKey);
    return user;
  }

  /**
   * Exchanges a refresh token for a new pair. A token that was already exchanged means it leaked (or the
   * legitimate client lost a reply): the whole session is revoked either way.
   */
  async refresh(refreshToken: string): Promise<AuthResult> {
    const now = this.platform.now();
    const tokenHash = hashRefreshToken(refreshToken);
    const stored = await this.repo.findRefreshToken(tokenHash);
    if (!stored) throw new AppError('REFRESH_TOKEN_INVALID');
    const session = await this.repo.findSession(stored.session_id);
    if (!session) throw new AppError('REFRESH_TOKEN_INVALID');
    // Say why the session ended when an administrator ended the account, so the app can tell the user.
    const user = await this.users.findById(session.user_id);
    if (user && user.deleted_at !== null) throw new AppError('ACCOUNT_DELETED');
    if (user && user.disabled_at !== null) throw new AppError('ACCOUNT_DISABLED');
    if (!user || session.revoked_at !== null) throw new AppError('REFRESH_TOKEN_INVALID');
    if (stored.used_at !== null) return this.rejectReuse(session.id);
    if (Number(stored.expires_at) <= now || Number(session.expires_at) <= now) {
      throw new AppError('REFRESH_TOKEN_INVALID');
    }

    const nextToken = newRefreshToken();
    const expiresAt = now + this.platform.config.refreshTokenTtlMs;
    const rotated = await this.repo.rotateRefreshToken(session.id, tokenHash, { tokenHash: hashRefreshToken(nextToken), expiresAt }, now);
    if (!rotated) return this.rejectReuse(session.id);
    await this.rememberLive(session.id, user.id, expiresAt);
    return this.issue(user, session.id, nextToken, expiresAt, now);
  }

  async logout(actor: Actor): Promise<void> {
    await this.revokeAndDisconnect([actor.sessionId], 'logout');
  }

  async listSessions(actor: Actor): Promise<Session[]> {
    const rows = await this.repo.listActiveSessions(actor.userId, this.platform.now());
    return rows.map((row) => ({
      id: row.id,
      deviceName: row.device_name,
      userAgent: row.user_agent,
      ip: row.ip,
      createdAt: Number(row.created_at),
      lastUsedAt: Number(row.last_used_at),
      current: row.id === actor.sessionId,
    }));
  }

  async revokeSession(actor: Actor, sessionId: string): Promise<void> {
    const session = await this.repo.findSession(sessionId);
    // Another user's session id looks exactly like one that does not exist.
    if (!session || session.user_id !== actor.userId || session.revoked_at !== null) {
      throw new AppError('SESSION_NOT_FOUND');
    }
    await this.revokeAndDisconnect([sessionId], 'revoked');
  }

  /** Changes the password and signs out every other session of the user. */
  async changePassword(actor: Actor, request: ChangePasswordRequest): Promise<void> {
    const user = await this.users.findById(actor.userId);
    if (!user) throw new AppError('UNAUTHENTICATED');
    const key = `password:account:${actor.userId}`;
    // Taken before the check (like login), so parallel guesses cannot all slip past the limit.
    await this.checkRate(key, this.platform.config.limits.loginPerAccount, 'RATE_LIMITED');
    if (!(await verifyPassword(user.password_hash, request.currentPassword))) {
      throw new AppError('CURRENT_PASSWORD_INCORRECT', {
        fields: [{ field: 'currentPassword', message: 'is not correct' }],
      });
    }
    await this.platform.limiter.reset(key);
    const now = this.platform.now();
    await this.users.updatePasswordHash(actor.userId, await hashPassword(request.newPassword), now);
    const others = await this.repo.otherActiveSessionIds(actor.userId, actor.sessionId, now);
    await this.revokeAndDisconnect(others, 'password_changed');
  }

  /** Verifies an access token and that its session is still live; used by every authenticated route. */
  async authenticate(accessToken: string): Promise<Actor> {
    const claims = await this.tokens.verify(accessToken, this.platform.now());
    const actor = { userId: claims.userId, sessionId: claims.sessionId };
    await this.authenticateSession(actor);
    return actor;
  }

  /** Counts one REST request against the user's budget (all devices together); RATE_LIMITED when spent. */
  async checkApiRate(actor: Actor): Promise<void> {
    await this.checkRate(`api:${actor.userId}`, this.platform.config.limits.apiPerUser, 'RATE_LIMITED');
  }

  /**
   * Throws unless the actor's session is still live and its account usable. The shared session cache answers
   * first (a tombstone refuses at once on every node); anything it cannot vouch for is read from the database,
   * joined with the account, and written back, never over a tombstone (docs/architecture.md, Redis: Sessions).
   * A refusal says why: ACCOUNT_DELETED or ACCOUNT_DISABLED when an administrator ended the account (refused on
   * every route at once, BR-14), else SESSION_REVOKED.
   */
  async authenticateSession(actor: Actor): Promise<void> {
    const now = this.platform.now();
    const key = sessionKey(actor.sessionId);
    const cached = await this.platform.sessions.get(key);
    // The refused path reads why (rare); the accepted path stays a cache hit.
    if (cached === SESSION_REVOKED) throw new AppError(await this.whyEnded(actor, now));
    const live = cached ? parseLiveSession(cached) : null;
    if (live && live.userId === actor.userId && live.expiresAt > now) return;

    const session = await this.repo.findSessionWithAccount(actor.sessionId);
    if (session && session.revoked_at !== null) await this.platform.sessions.set(key, SESSION_REVOKED, SESSION_REVOKED_TTL_MS);
    const problem = session && session.user_id === actor.userId ? sessionProblem(session, now) : 'SESSION_REVOKED';
    if (problem || !session) throw new AppError(problem ?? 'SESSION_REVOKED');
    await this.rememberLive(session.id, session.user_id, Number(session.expires_at));
  }

  /**
   * Sessions an administrator ended (revoked in the database by the admin module's transaction): tombstones in
   * the shared cache, so every node refuses their tokens at once.
   */
  async sessionsEnded(sessionIds: readonly string[]): Promise<void> {
    await Promise.all(sessionIds.map((id) => this.platform.sessions.set(sessionKey(id), SESSION_REVOKED, SESSION_REVOKED_TTL_MS)));
  }

  /**
   * Of `sessionIds`, those that must not keep a socket open, with the reason (ACCOUNT_DELETED, ACCOUNT_DISABLED or
   * SESSION_REVOKED). One query: the gateway runs it every heartbeat over the sockets it holds.
   */
  async endedSessions(sessionIds: readonly string[]): Promise<Map<string, ErrorCode>> {
    const rows = await this.repo.findSessionsWithAccount(sessionIds);
    const now = this.platform.now();
    const found = new Map(rows.map((row) => [row.id, sessionProblem(row, now)]));
    const ended = new Map<string, ErrorCode>();
    for (const id of sessionIds) {
      const problem = found.has(id) ? found.get(id) : 'SESSION_REVOKED';
      if (problem) ended.set(id, problem);
    }
    return ended;
  }

  private async whyEnded(actor: Actor, now: number): Promise<ErrorCode> {
    const session = await this.repo.findSessionWithAccount(actor.sessionId);
    return (session && session.user_id === actor.userId ? sessionProblem(session, now) : null) ?? 'SESSION_REVOKED';
  }

  /** Caches a session as live until its expiry (at most SESSION_LIVE_TTL_MS), unless it has been revoked. */
  private async rememberLive(sessionId: string, userId: string, expiresAt: number): Promise<void> {
    const ttl = Math.min(SESSION_LIVE_TTL_MS, expiresAt - this.platform.now());
    if (ttl <= 0) return;
    await this.platform.sessions.setUnless(sessionKey(sessionId), `live:${userId}:${expiresAt}`, ttl, SESSION_REVOKED);
  }

  private async startSession(user: UserRow, client: ClientInfo): Promise<AuthResult> {
    const now = this.platform.now();
    const sessionId = randomUUID();
    const refreshToken = newRefreshToken();
    const expiresAt = now + this.platform.config.refreshTokenTtlMs;
    await this.repo.createSession(
      {
        id: sessionId,
        user_id: user.id,
        device_name: (client.deviceName?.trim() || describeUserAgent(client.userAgent)).slice(0, 100),
        user_agent: client.userAgent.slice(0, 500),
        ip: client.ip.slice(0, 64),
        created_at: now,
        last_used_at: now,
        expires_at: expiresAt,
        revoked_at: null,
        revoked_reason: null,
      },
      { tokenHash: hashRefreshToken(refreshToken), expiresAt },
    );
    return this.issue(user, sessionId, refreshToken, expiresAt, now);
  }

  private async issue(user: UserRow, sessionId: string, refreshToken: string, refreshExpiresAt: number, now: number): Promise<AuthResult> {
    const access = await this.tokens.sign({ userId: user.id, sessionId }, now);
    return {
      user: toUserPublic(user),
      sessionId,
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt: refreshExpiresAt,
      role: user.role as AccountRole,
    };
  }

  private async rejectReuse(sessionId: string): Promise<never> {
    this.platform.log.warn({ sessionId }, 'refresh token reuse: session revoked');
    await this.revokeAndDisconnect([sessionId], 'refresh_reuse');
    throw new AppError('REFRESH_TOKEN_REUSED');
  }

  /**
   * Revocation takes effect at once everywhere: committed in the database, then a tombstone in the shared
   * session cache (every node's next check refuses the token), then the gateways close the sockets with
   * SESSION_REVOKED. Every way a session ends goes through here.
   */
  private async revokeAndDisconnect(sessionIds: readonly string[], reason: string): Promise<void> {
    const revoked = await this.repo.revokeSessions(sessionIds, reason, this.platform.now());
    if (revoked.length === 0) return;
    await Promise.all(revoked.map((id) => this.platform.sessions.set(sessionKey(id), SESSION_REVOKED, SESSION_REVOKED_TTL_MS)));
    await this.platform.bus.publish({
      kind: 'close-sessions',
      sessionIds: revoked,
      code: CLOSE_CODES.SESSION_REVOKED,
      reason,
    });
  }

  private async checkRate(
    key: string,
    limit: { limit: number; windowMs: number },
    code: 'RATE_LIMITED' | 'LOGIN_THROTTLED',
  ): Promise<void> {
    const decision = await this.platform.limiter.consume(key, limit);
    if (!decision.allowed) throw new AppError(code, { retryAfterMs: decision.retryAfterMs });
  }
}

/** Why a session cannot be used, or null when it can. */
function sessionProblem(
  session: { revoked_at: number | null; expires_at: number; disabled_at: number | null; deleted_at: number | null },
  now: number,
): ErrorCode | null {
  if (session.deleted_at !== null) return 'ACCOUNT_DELETED';
  if (session.disabled_at !== null) return 'ACCOUNT_DISABLED';
  if (session.revoked_at !== null || Number(session.expires_at) <= now) return 'SESSION_REVOKED';
  return null;
}

/** The shared cache's value for a revoked session; a fill never overwrites it. */
const SESSION_REVOKED = 'revoked';
/** How long a tombstone is kept (the database says the same afterwards; it only has to outlive racing fills). */
const SESSION_REVOKED_TTL_MS = 10 * 60_000;
/** How long a session is taken as live without a database read. Revocation does not wait for it (tombstones). */
const SESSION_LIVE_TTL_MS = 60_000;

function sessionKey(sessionId: string): string {
  return `session:${sessionId}`;
}

function parseLiveSession(value: string): { userId: string; expiresAt: number } | null {
  const match = /^live:(.+):(\d+)$/.exec(value);
  return match ? { userId: match[1]!, expiresAt: Number(match[2]) } : null;
}

/** A readable device name from a User-Agent ("Chrome on Linux"), for the session list. */
export function describeUserAgent(userAgent: string): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : /node|undici/i.test(userAgent)
            ? 'SDK client'
            : 'Browser';
  const os = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad|iPod/.test(userAgent)
      ? 'iOS'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}
