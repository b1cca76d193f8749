/**
 * Administration in the browser (issue 7). The first admin registers in the browser as a normal user (a name in
 * KKCHAT_ADMIN_USERNAMES grants nothing at registration) and becomes admin when the server restarts. An admin
 * disables a user who is chatting in another browser: that user is disconnected at once, told why, and cannot
 * sign in. Then a message is removed live, a group is disabled (its members see why), and the
 * audit log shows it all. Screenshots land in /tmp/kkchat-shots (admin-*.png).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { api, befriend, registerUser } from '../../packages/server/test/support/raw-client';
import { startServerProcess, type ServerProcess } from '../../packages/server/test/support/server-process';
import { DESKTOP, PHONE, bubble, ensureBuilt, launchBrowser, login, newUser, register, shot } from './support';

const suffix = Math.random().toString(36).slice(2, 7);
const ADMIN = { username: `root_${suffix}`, displayName: 'Rita Root', password: 'admin password 1' };
const GROUP = 'Night owls';

describe('administration in the browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[][] = [];
  let admin: Page;
  let alice: Page;
  let bob: Page;
  let names: { alice: string; bob: string; bobPassword: string; bobDisplay: string };

  async function open(viewport = DESKTOP, locale = 'en-US'): Promise<Page> {
    const session = await newUser(browser, viewport, locale);
    contexts.push(session.context);
    pageErrors.push(session.pageErrors);
    return session.page;
  }

  beforeAll(async () => {
    ensureBuilt();
    server = await startServerProcess({ env: { KKCHAT_ADMIN_USERNAMES: ADMIN.username } });
    browser = await launchBrowser();
    const [a, b, c] = [await registerUser(server.url, 'alice'), await registerUser(server.url, 'bob'), await registerUser(server.url, 'carol')];
    await befriend(server.url, a, b);
    await befriend(server.url, a, c);
    // A group of Alice's with Carol, for the group part.
    await api(server.url, 'POST', '/groups', { token: a.accessToken, body: { name: GROUP, memberIds: [c.user.id] } });
    names = { alice: a.user.username, bob: b.user.username, bobPassword: b.password, bobDisplay: b.user.displayName };
    admin = await open();
    alice = await open();
    // Bob reads Chinese: what he is told when he is cut off is in his language.
    bob = await open(DESKTOP, 'zh-CN');
    await login(alice, server.url, a.user.username, a.password);
    await login(bob, server.url, b.user.username, b.password);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('the first admin registers, becomes admin at the next start and sees the admin entry; a normal user does not', async () => {
    await register(admin, server.url, ADMIN.username, ADMIN.displayName, ADMIN.password);
    // A listed name registered while the server runs is a normal account: no admin entry, /admin sends it home.
    await admin.getByTestId('nav-chats').waitFor();
    expect(await admin.getByTestId('nav-admin').count()).toBe(0);
    await admin.goto(`${server.url}/admin`);
    await admin.getByTestId('nav-chats').waitFor();
    expect(new URL(admin.url()).pathname).toBe('/');
    // The operator restarts the server: the listed account exists now and is made the first administrator.
    await server.kill('SIGTERM');
    await server.restart();
    await admin.reload();
    await admin.getByTestId('nav-admin').waitFor({ timeout: 20_000 });
    expect(await alice.getByTestId('nav-admin').count()).toBe(0);
    await alice.goto(`${server.url}/admin/users`);
    await alice.getByTestId('nav-chats').waitFor();
    expect(new URL(alice.url()).pathname).toBe('/');
    expect(await alice.getByTestId('admin-area').count()).toBe(0);
  });

  it('Alice and Bob chat live', async () => {
    await bob.getByTestId(`conversation-${names.alice}`).click();
    await alice.getByTestId(`conversation-${names.bob}`).click();
    await alice.getByTestId('composer-input').fill('Are you there, Bob?');
    await alice.getByTestId('composer-send').click();
    await bubble(bob, 'Are you there, Bob?').waitFor();
    await bob.getByTestId('composer-input').fill('Yes! Here.');
    await bob.getByTestId('composer-send').click();
    await bubble(alice, 'Yes! Here.').waitFor();
  });

  it('the dashboard shows the figures and two charts', async () => {
    await admin.getByTestId('nav-admin').click();
    await admin.getByTestId('admin-dashboard').waitFor();
    await admin.getByTestId('stat-messages-today').waitFor();
    expect(await admin.getByTestId('stat-registered').textContent()).toContain('4');
    expect(await admin.getByTestId('stat-messages-today').textContent()).toContain('2');
    // No file has been uploaded yet: the files table says 0 bytes.
    expect(await admin.getByTestId('stat-storage').textContent()).toContain('0 B');
    expect(await admin.locator('[data-testid="chart-messages"] [data-testid="bar"]').count()).toBe(30);
    await shot(admin, 'admin-dashboard');
  });

  it('the admin disables Bob while he is chatting: he is disconnected at once, told why, and cannot sign in', async () => {
    await admin.getByTestId('admin-nav-users').click();
    await admin.getByTestId('admin-users-search').fill(names.bob);
    await admin.getByTestId(`admin-user-link-${names.bob}`).click();
    await admin.getByTestId('admin-user-name').waitFor();
    await shot(admin, 'admin-user');
    await admin.getByTestId('admin-user-action-disable').click();
    await admin.getByTestId('reason-input').fill('Spamming other users');
    await shot(admin, 'admin-disable-reason');
    const started = Date.now();
    await admin.getByTestId('reason-confirm').click();
    await admin.getByTestId('admin-user-status').filter({ hasText: 'Disabled' }).waitFor();

    // Bob's open chat turns into the sign-in page with the reason, without him doing anything.
    await bob.getByTestId('login-notice').waitFor({ timeout: 5000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await bob.getByTestId('login-notice').textContent()).toBe('你的账号已被管理员停用。');
    await shot(bob, 'admin-bob-disconnected');
    await bob.getByTestId('login-username').fill(names.bob);
    await bob.getByTestId('login-password').fill(names.bobPassword);
    await bob.getByTestId('login-submit').click();
    await bob.getByTestId('login-error').waitFor();
    expect(await bob.getByTestId('login-error').textContent()).toContain('你的账号已被管理员停用');
    await shot(bob, 'admin-bob-login-refused');

    // The users list says so too.
    await admin.getByTestId('admin-nav-users').click();
    await admin.getByTestId('admin-users-filter-disabled').click();
    await admin.getByTestId(`admin-user-status-${names.bob}`).waitFor();
    await shot(admin, 'admin-users-disabled');
  });

  it('the admin removes a message: Alice sees it replaced live by the tombstone', async () => {
    await admin.getByTestId('admin-users-filter-all').click();
    await admin.getByTestId('admin-users-search').fill(names.alice);
    await admin.getByTestId(`admin-user-link-${names.alice}`).click();
    await admin.getByTestId(`admin-open-conversation-${names.bob}`).click();
    await admin.getByTestId('admin-message').first().waitFor();
    const seq = await admin.getByTestId('admin-message').filter({ hasText: 'Yes! Here.' }).getAttribute('data-seq');
    await admin.getByTestId(`admin-remove-message-${seq}`).click();
    await admin.getByTestId('reason-input').fill('Reported by a user');
    await admin.getByTestId('reason-confirm').click();
    await admin.getByTestId('admin-message').filter({ hasText: 'Message removed by an administrator' }).waitFor();
    await admin.getByTestId('reason-dialog').waitFor({ state: 'detached' });
    await shot(admin, 'admin-moderation');

    await alice.getByTestId('message-removed').waitFor();
    expect(await bubble(alice, 'Yes! Here.').count()).toBe(0);
    await shot(alice, 'admin-alice-tombstone');
  });

  it('the admin disables a group: its members see why and cannot post', async () => {
    await admin.getByTestId('admin-nav-groups').click();
    await admin.getByTestId('admin-groups-search').fill('night');
    await admin.getByTestId(`admin-group-row-${GROUP}`).getByRole('link').click();
    await admin.getByTestId('admin-group-action-disable').click();
    await admin.getByTestId('reason-input').fill('Under review after reports');
    await admin.getByTestId('reason-confirm').click();
    await admin.getByTestId('admin-group-status').filter({ hasText: 'Disabled' }).waitFor();
    await admin.getByTestId('reason-dialog').waitFor({ state: 'detached' });
    await shot(admin, 'admin-group-disabled');

    await alice.getByTestId(`conversation-group-${GROUP}`).click();
    await alice.getByTestId('group-disabled-banner').waitFor();
    expect(await alice.getByTestId('group-disabled-banner').textContent()).toContain('Under review after reports');
    expect(await alice.getByTestId('composer-input').count()).toBe(0);
    await shot(alice, 'admin-alice-group-disabled');
  });

  it('the audit log lists every action with its reason, filterable', async () => {
    await admin.getByTestId('admin-nav-audit').click();
    await admin.getByTestId('audit-row').first().waitFor();
    const actions = await admin.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    expect(actions).toEqual(expect.arrayContaining(['user.role_granted', 'user.disabled', 'message.removed', 'group.disabled', 'conversation.viewed']));
    await shot(admin, 'admin-audit');
    await admin.getByTestId('audit-filter-action').selectOption('user.disabled');
    // The filtered page replaces the whole list: wait for it, not for a row the unfiltered list also had.
    await expect.poll(() => admin.getByTestId('audit-row').count(), { timeout: 10_000 }).toBe(1);
    expect(await admin.getByTestId('audit-row').textContent()).toContain('Spamming other users');
  });

  it('works on a phone, in Chinese', async () => {
    const phone = await open(PHONE, 'zh-CN');
    await login(phone, server.url, ADMIN.username, ADMIN.password);
    await phone.getByTestId('nav-admin').click();
    await phone.getByTestId('stat-registered').waitFor();
    expect(await phone.getByTestId('admin-nav-users').textContent()).toBe('用户');
    await shot(phone, 'admin-phone-dashboard');
    await phone.getByTestId('admin-nav-users').click();
    await phone.getByTestId(`admin-user-row-${names.bob}`).waitFor();
    await shot(phone, 'admin-phone-users');
  });

  it('no page threw an uncaught error', () => {
    expect(pageErrors.flat()).toEqual([]);
  });
});
