import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AuthResult } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminBootstrap } from '../../src/modules/admin/admin.bootstrap.js';
import { adminApi, newAdmin } from '../support/admin.js';
import { newUser } from '../support/groups.js';
import { api, expectError, RawSocket, registerUser, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/** Roles: the first administrator (command and environment), grant and revoke, and the last-admin rule. */
const run = promisify(execFile);
const CLI = resolve(fileURLToPath(import.meta.url), '../../../dist/admin-cli.js');

let server: TestServer;
let admin: ReturnType<typeof adminApi>;

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
});
afterAll(async () => {
  await server.close();
});

describe('granting and revoking', () => {
  it('takes effect on the next request and tells the user live', async () => {
    const boss = await newAdmin(server, 'rg');
    const u = await newUser(server, 'rgu');
    const socket = await RawSocket.connect(server.wsUrl, u.accessToken);
    expectError(await admin.call(u, 'GET', '/users'), 403, 'ADMIN_REQUIRED');

    expect((await admin.setRole(boss, u.user.id, 'admin')).body.user.role).toBe('admin');
    expect((await socket.next('account.updated')).role).toBe('admin');
    expect((await admin.call(u, 'GET', '/users')).status).toBe(200);
    const relogin = await api<AuthResult>(server.url, 'POST', '/auth/login', { body: { username: u.user.username, password: u.password } });
    expect(relogin.body.role).toBe('admin');

    expect((await admin.setRole(boss, u.user.id, 'user')).body.user.role).toBe('user');
    await socket.next('account.updated', (f) => f.role === 'user');
    // The same token that worked a moment ago: the role is read on every request, not from the token.
    expectError(await admin.call(u, 'GET', '/users'), 403, 'ADMIN_REQUIRED');
    const entries = (await admin.audit(boss, `targetId=${u.user.id}`)).body.entries.map((e) => e.action);
    expect(entries).toEqual(['user.role_revoked', 'user.role_granted']);
    socket.close();
  });

  it('never lets the last active administrator lose the role or the account, even when two race', async () => {
    const solo = await startServer();
    try {
      const soloAdmin = adminApi(solo);
      const only = await newAdmin(solo, 'last');
      expectError(await soloAdmin.setRole(only, only.user.id, 'user'), 409, 'LAST_ADMIN');
      // (Disabling or deleting the last admin takes another admin, so it can only happen in a race: below.)

      // Two admins, the only two, turning on each other at the same moment: exactly one wins every round.
      for (let round = 0; round < 8; round++) {
        const a = await newAdmin(solo, `ra${round}`);
        const b = await newAdmin(solo, `rb${round}`);
        await onlyAdmins(solo, [a, b]);
        const crossing =
          round % 2 === 0
            ? [soloAdmin.setRole(a, b.user.id, 'user'), soloAdmin.setRole(b, a.user.id, 'user')]
            : [soloAdmin.disable(a, b.user.id), soloAdmin.disable(b, a.user.id)];
        const outcome = (await Promise.all(crossing)).map((r) => (r.status === 200 ? 200 : (r.body as unknown as { error: { code: string } }).error.code));
        expect(outcome.filter((o) => o === 200), `round ${round}: ${outcome.join(', ')}`).toHaveLength(1);
        expect(['LAST_ADMIN', 'ADMIN_REQUIRED', 'ACCOUNT_DISABLED']).toContain(outcome.find((o) => o !== 200));
        expect(await activeAdmins(solo)).toBe(1);
      }
    } finally {
      await solo.close();
    }
  });
});

/** Test setup: `keep` become the only active admins (others lose the role directly in the database). */
async function onlyAdmins(s: TestServer, keep: User[]): Promise<void> {
  await s.kkchat.platform.db
    .updateTable('users')
    .set({ role: 'user' })
    .where('role', '=', 'admin')
    .where('id', 'not in', keep.map((u) => u.user.id))
    .execute();
}

async function activeAdmins(s: TestServer): Promise<number> {
  const row = await s.kkchat.platform.db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

describe('the first administrator', () => {
  it('KKCHAT_ADMIN_USERNAMES: registering a listed name while the server runs makes no administrator; the next start does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kkchat-squat-'));
    const env = { KKCHAT_DATABASE_URL: `sqlite:${join(dir, 'kkchat.db')}`, KKCHAT_ADMIN_USERNAMES: 'founder, second' };
    try {
      const first = await startServer(env);
      // Whoever registers a listed name first (here nobody has an account yet) gets a normal account, nothing more.
      const founder = await api<AuthResult>(first.url, 'POST', '/auth/register', { body: { username: 'Founder', password: 'founder password' } });
      expect(founder.status).toBe(201);
      expect(founder.body.role).toBe('user');
      expectError(await admin_call(first, founder.body), 403, 'ADMIN_REQUIRED');
      const relogin = await api<AuthResult>(first.url, 'POST', '/auth/login', { body: { username: 'founder', password: 'founder password' } });
      expect(relogin.body.role).toBe('user');
      expect(await grantsByEnv(first)).toBe(0);
      await first.close();

      // The operator restarts the server: the listed account that exists now is made the first administrator.
      const second = await startServer(env);
      const signedIn = await api<AuthResult>(second.url, 'POST', '/auth/login', { body: { username: 'founder', password: 'founder password' } });
      expect(signedIn.body.role).toBe('admin');
      expect((await admin_call(second, signedIn.body)).status).toBe(200);
      const entries = await adminApi(second).audit({ ...signedIn.body, password: '' } as User, 'action=user.role_granted');
      expect(entries.body.entries).toMatchObject([{ via: 'env', actor: null, targetId: founder.body.user.id }]);
      // "second" registers only now, with an admin in place: still a normal account.
      const late = await api<AuthResult>(second.url, 'POST', '/auth/register', { body: { username: 'second', password: 'second password' } });
      expect(late.body.role).toBe('user');
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('KKCHAT_ADMIN_USERNAMES at start names the listed accounts that do not exist (or are disabled) and grants them nothing', async () => {
    const s = await startServer();
    try {
      const chief = await registerUser(s.url, 'boot');
      const off = await registerUser(s.url, 'bootoff');
      await s.kkchat.platform.db.updateTable('users').set({ disabled_at: Date.now() }).where('id', '=', off.user.id).execute();
      const warnings: { fields: Record<string, unknown>; message: string }[] = [];
      const log = { warn: (fields: Record<string, unknown>, message: string) => void warnings.push({ fields, message }) };
      const listed = [`ghost_${Date.now().toString(36)}`, chief.user.username.toUpperCase(), off.user.username];
      // What the server runs at start, with its logger.
      const granted = await new AdminBootstrap(s.kkchat.platform.db, Date.now, listed, log).atStart();
      expect(granted).toEqual([chief.user.username]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.fields).toEqual({ usernames: [listed[0], off.user.username.toLowerCase()] });
      expect(warnings[0]!.message).toContain('register them, then restart the server, or run `npm run admin -- grant <name>`');
      const roles = await s.kkchat.platform.db.selectFrom('users').select(['username', 'role']).where('id', 'in', [chief.user.id, off.user.id]).execute();
      expect(Object.fromEntries(roles.map((r) => [r.username, r.role]))).toEqual({ [chief.user.username]: 'admin', [off.user.username]: 'user' });
      // With an admin in place it neither grants nor warns.
      expect(await new AdminBootstrap(s.kkchat.platform.db, Date.now, listed, log).atStart()).toEqual([]);
      expect(warnings).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('KKCHAT_ADMIN_USERNAMES grants existing accounts at start, only while no admin exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kkchat-boot-'));
    const env = { KKCHAT_DATABASE_URL: `sqlite:${join(dir, 'kkchat.db')}` };
    try {
      const first = await startServer(env);
      const chief = await registerUser(first.url, 'chief');
      const other = await registerUser(first.url, 'other');
      await first.close();

      const second = await startServer({ ...env, KKCHAT_ADMIN_USERNAMES: chief.user.username });
      const signedIn = await api<AuthResult>(second.url, 'POST', '/auth/login', { body: { username: chief.user.username, password: chief.password } });
      expect(signedIn.body.role).toBe('admin');
      // Demote-and-restart is not undone: once an admin exists, the variable does nothing.
      await adminApi(second).setRole({ ...signedIn.body, password: '' } as User, other.user.id, 'admin');
      await second.kkchat.platform.db.updateTable('users').set({ role: 'user' }).where('id', '=', chief.user.id).execute();
      await second.close();
      const third = await startServer({ ...env, KKCHAT_ADMIN_USERNAMES: chief.user.username });
      const again = await api<AuthResult>(third.url, 'POST', '/auth/login', { body: { username: chief.user.username, password: chief.password } });
      expect(again.body.role).toBe('user');
      await third.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`npm run admin -- grant <username>` makes an administrator, with an audit entry; revoke keeps the last one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kkchat-cli-'));
    const env = { KKCHAT_DATABASE_URL: `sqlite:${join(dir, 'kkchat.db')}` };
    try {
      const s = await startServer(env);
      const user = await registerUser(s.url, 'clio');
      const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, KKCHAT_LOG_LEVEL: 'silent' } });
      // It runs next to the server on the same database.
      const granted = await cli('grant', user.user.username, '--reason', 'first admin');
      expect(granted.stdout).toContain('is an administrator now');
      expect((await cli('list')).stdout).toContain(user.user.username);
      expect((await admin_call(s, user)).status).toBe(200);
      const failed = await cli('revoke', user.user.username).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toContain('last active administrator');
      const audit = await adminApi(s).audit(user as User, 'action=user.role_granted');
      expect(audit.body.entries[0]).toMatchObject({ via: 'cli', actor: null, reason: 'first admin', targetId: user.user.id });
      const unknown = await cli('grant', 'nobody-here').then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(unknown?.stderr).toContain('No account named');
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function admin_call(s: TestServer, user: AuthResult) {
  return api(s.url, 'GET', '/admin/users', { token: user.accessToken });
}

/** Role grants recorded as made by KKCHAT_ADMIN_USERNAMES. */
async function grantsByEnv(s: TestServer): Promise<number> {
  const row = await s.kkchat.platform.db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('action', '=', 'user.role_granted')
    .where('via', '=', 'env')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
