/**
 * Two people in two browsers: register, find each other, become friends, chat live with read receipts and
 * typing, survive a server crash, and never run HTML a user typed. Screenshots land in /tmp/kkchat-shots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServerProcess, type ServerProcess } from '../../packages/server/test/support/server-process';
import { DESKTOP, PHONE, bubble, ensureBuilt, launchBrowser, login, newUser, register, shot } from './support';

const PASSWORD = 'correct horse battery';
const suffix = Math.random().toString(36).slice(2, 7);
const alice = { username: `alice_${suffix}`, displayName: 'Alice Martin' };
const bob = { username: `bob_${suffix}`, displayName: 'Bob Chen' };
const XSS_TEXT = '<img src=x onerror=alert(1)>';

describe('two people chatting in the browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let a: Page;
  let b: Page;
  let aDialogs: string[];
  let bDialogs: string[];
  /** Uncaught errors of every page opened, checked at the end. */
  const pageErrors: string[][] = [];

  beforeAll(async () => {
    ensureBuilt();
    server = await startServerProcess();
    browser = await launchBrowser();
    const userA = await newUser(browser, DESKTOP);
    const userB = await newUser(browser, DESKTOP);
    contexts.push(userA.context, userB.context);
    a = userA.page;
    b = userB.page;
    aDialogs = userA.dialogs;
    bDialogs = userB.dialogs;
    pageErrors.push(userA.pageErrors, userB.pageErrors);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('shows the sign-in page to a visitor and registers both users', async () => {
    await a.goto(`${server.url}/`);
    await a.getByTestId('login-username').waitFor();
    expect(new URL(a.url()).pathname).toBe('/login');
    await shot(a, 'desktop-login');

    await register(a, server.url, alice.username, alice.displayName, PASSWORD);
    await register(b, server.url, bob.username, bob.displayName, PASSWORD);
    expect(await a.getByTestId('me-name').textContent()).toContain(alice.displayName);
    await shot(a, 'desktop-empty');
  });

  it('lets A find B and send a friend request with a note', async () => {
    await a.getByTestId('nav-search').click();
    await a.getByTestId('search-input').fill(bob.username);
    await a.getByTestId(`search-result-${bob.username}`).waitFor();
    await a.getByTestId(`add-friend-${bob.username}`).click();
    await a.getByTestId(`request-note-${bob.username}`).fill('Hi Bob, it is Alice from the climbing club!');
    await shot(a, 'desktop-search-note');
    await a.getByTestId(`send-request-${bob.username}`).click();
    await a.getByTestId(`pending-${bob.username}`).waitFor();
  });

  it('delivers the request to B live, and B accepts it', async () => {
    // B did not reload: the request arrives over the socket and raises the badge.
    await b.getByTestId('nav-requests-badge').waitFor();
    await b.getByTestId('nav-requests').click();
    await b.getByTestId(`request-incoming-${alice.username}`).waitFor();
    expect(await b.getByTestId(`request-incoming-${alice.username}`).textContent()).toContain('climbing club');
    await shot(b, 'desktop-requests');
    await b.getByTestId(`request-accept-${alice.username}`).click();
    await b.getByTestId(`request-incoming-${alice.username}`).waitFor({ state: 'detached' });
  });

  it('shows B as an online contact to A, and opens the chat', async () => {
    await a.getByTestId('nav-contacts').click();
    await a.getByTestId(`contact-${bob.username}`).waitFor();
    await expect.poll(() => a.getByTestId(`presence-${bob.username}`).getAttribute('data-online')).toBe('true');
    await a.getByTestId(`contact-${bob.username}`).click();
    await a.getByTestId('composer-input').waitFor();
    expect(await a.getByTestId('chat-peer-name').textContent()).toContain(bob.displayName);
  });

  it('sends a message that B receives live, with an unread badge', async () => {
    await b.getByTestId('nav-chats').click();
    await a.getByTestId('composer-input').fill('Hello Bob! Route topo: https://example.com/topo?id=7');
    await a.getByTestId('composer-input').press('Enter');
    const sent = bubble(a, 'Hello Bob!');
    await sent.waitFor();
    await expect.poll(() => sent.getAttribute('data-state')).toBe('sent');
    expect(Number(await sent.getAttribute('data-seq'))).toBeGreaterThan(0);

    // B is on the chat list, not in the chat: the conversation appears with an unread count.
    await b.getByTestId(`unread-${alice.username}`).waitFor();
    expect((await b.getByTestId(`unread-${alice.username}`).textContent())?.trim()).toBe('1');
    expect(await b.getByTestId(`conversation-${alice.username}`).textContent()).toContain('Hello Bob!');
    await shot(b, 'desktop-chats-unread');
  });

  it('links only http(s) URLs in messages', async () => {
    const link = bubble(a, 'Hello Bob!').locator('a');
    expect(await link.getAttribute('href')).toBe('https://example.com/topo?id=7');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    expect(await link.getAttribute('target')).toBe('_blank');
  });

  it('marks the chat read when B opens it, and A sees the receipt', async () => {
    await b.getByTestId(`conversation-${alice.username}`).click();
    await bubble(b, 'Hello Bob!').waitFor();
    await b.getByTestId(`unread-${alice.username}`).waitFor({ state: 'detached' });
    await a.getByTestId('read-receipt').waitFor();
  });

  it('shows the typing indicator and delivers the reply live', async () => {
    await b.getByTestId('composer-input').pressSequentially('Hey Alice', { delay: 20 });
    await a.getByTestId('typing-indicator').waitFor();
    await shot(a, 'desktop-typing');
    await b.getByTestId('composer-input').press('Shift+Enter');
    await b.getByTestId('composer-input').pressSequentially('Saturday works for me.');
    await b.getByTestId('composer-send').click();
    const reply = bubble(a, 'Saturday works for me.');
    await reply.waitFor();
    // Shift+Enter made a line break inside one message, not a second message.
    expect(await reply.innerText()).toContain('Hey Alice\nSaturday works for me.');
    // The indicator goes away with the message.
    await a.getByTestId('typing-indicator').waitFor({ state: 'detached' });
  });

  it('renders HTML a user typed as literal text and never runs it', async () => {
    await a.getByTestId('composer-input').fill(XSS_TEXT);
    await a.getByTestId('composer-input').press('Enter');
    await a.getByTestId('composer-input').fill('[open](javascript:alert(1)) and JaVaScRiPt:alert(2)');
    await a.getByTestId('composer-input').press('Enter');
    const html = bubble(b, 'onerror');
    await html.waitFor();
    expect(await html.innerText()).toContain(XSS_TEXT);
    expect(await b.getByTestId('message-list').locator('img').count()).toBe(0);
    const jsLink = bubble(b, 'javascript:alert(1)');
    await jsLink.waitFor();
    expect(await jsLink.locator('a').count()).toBe(0);
    await b.waitForTimeout(300);
    expect(aDialogs).toEqual([]);
    expect(bDialogs).toEqual([]);
    await shot(b, 'desktop-chat-b');
    await shot(a, 'desktop-chat-a');
  });

  it('loads older history page by page when scrolling up, after a reload restores the session', async () => {
    const BULK = 70;
    for (let i = 1; i <= BULK; i++) {
      await a.getByTestId('composer-input').fill(`Bulk message ${i} of ${BULK}`);
      await a.getByTestId('composer-input').press('Enter');
    }
    await expect.poll(() => bubble(a, `Bulk message ${BULK} of`).getAttribute('data-state')).toBe('sent');

    // A reload keeps the session (refresh cookie) and reopens the same chat with only the newest page.
    await b.reload();
    await bubble(b, `Bulk message ${BULK} of`).waitFor();
    const firstPage = await b.getByTestId('message').count();
    expect(firstPage).toBe(50);
    expect(await bubble(b, 'Hello Bob!').count()).toBe(0);

    const list = b.getByTestId('message-list');
    const anchor = bubble(b, 'Bulk message 30 of');
    const anchorTopBefore = await anchor.evaluate((el) => el.getBoundingClientRect().top);
    await list.evaluate((el) => el.scrollTo({ top: 0 }));
    await bubble(b, 'Hello Bob!').waitFor({ state: 'attached' });
    await b.getByText('This is the beginning of your conversation.').waitFor({ state: 'attached' });
    expect(await b.getByTestId('message').count()).toBeGreaterThan(firstPage);
    // The older page was inserted above without yanking the view: the anchor moved by the same amount the
    // scroll went up, so it did not jump to the very top or bottom.
    const anchorTopAfter = await anchor.evaluate((el) => el.getBoundingClientRect().top);
    expect(anchorTopAfter).toBeGreaterThan(anchorTopBefore - 1);
    const seqs = await b.getByTestId('message').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-seq'))));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    await shot(b, 'desktop-history-top');
    // Scrolled up, a button brings the reader back to the newest message.
    await b.getByTestId('jump-to-bottom').click();
    await b.getByTestId('jump-to-bottom').waitFor({ state: 'detached' });
    await expect.poll(() => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(5);
  });

  it('shows the reconnecting banner across a server crash, then syncs what was missed', async () => {
    await server.kill('SIGKILL');
    await a.getByTestId('reconnecting-banner').waitFor();
    await shot(a, 'desktop-reconnecting');
    await server.restart();
    await a.getByTestId('reconnecting-banner').waitFor({ state: 'detached', timeout: 30_000 });
    await b.getByTestId('reconnecting-banner').waitFor({ state: 'detached', timeout: 30_000 });
    await b.getByTestId('composer-input').fill('Back online after the crash');
    await b.getByTestId('composer-input').press('Enter');
    await bubble(a, 'Back online after the crash').waitFor();
  });

  it('lists devices in settings with the current one marked', async () => {
    await a.getByTestId('nav-settings').click();
    await a.getByTestId('session-row').first().waitFor();
    expect(await a.getByTestId('session-current').count()).toBe(1);
    await shot(a, 'desktop-settings');
  });

  it('updates a profile, and the friend sees the new name live', async () => {
    await a.getByTestId('settings-display-name').fill('Alice M.');
    await a.getByTestId('settings-bio').fill('Climber, coffee, <b>bold</b> claims');
    await a.getByTestId('settings-profile-save').click();
    await expect.poll(() => a.getByTestId('me-name').textContent()).toContain('Alice M.');
    // Bob has the chat with Alice open.
    await expect.poll(() => b.getByTestId('chat-peer-name').textContent()).toContain('Alice M.');
    await a.getByTestId('settings-display-name').fill(alice.displayName);
    await a.getByTestId('settings-profile-save').click();
    await expect.poll(() => b.getByTestId('chat-peer-name').textContent()).toContain(alice.displayName);
  });

  let phonePage: Page;
  it('works single-pane on a phone, in Chinese', async () => {
    const phone = await newUser(browser, PHONE, 'zh-CN');
    contexts.push(phone.context);
    pageErrors.push(phone.pageErrors);
    const page = phone.page;
    phonePage = page;
    await page.goto(`${server.url}/login`);
    await page.getByTestId('login-username').waitFor();
    // navigator.language zh-CN on first visit: the interface is Chinese.
    expect(await page.getByTestId('login-submit').textContent()).toContain('登录');
    await shot(page, 'phone-login-zh');
    await login(page, server.url, bob.username, PASSWORD);
    await shot(page, 'phone-chats-zh');
    await page.getByTestId(`conversation-${alice.username}`).click();
    await page.getByTestId('composer-input').waitFor();
    expect(await page.getByTestId('nav-chats').isVisible()).toBe(false);
    await bubble(page, 'Back online after the crash').waitFor();
    await shot(page, 'phone-chat-zh');
    await page.getByTestId('chat-back').click();
    await page.getByTestId('nav-chats').waitFor();

    // Switch to English in settings: remembered across a reload.
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('language-select').selectOption('en');
    await shot(page, 'phone-settings-en');
    await page.reload();
    await page.getByTestId('settings-logout').waitFor();
    expect(await page.getByTestId('settings-logout').textContent()).toContain('Sign out');
    expect(phone.dialogs).toEqual([]);
  });

  it('signs a device out at once when another device revokes its session', async () => {
    await b.getByTestId('nav-settings').click();
    // Bob now has two sessions: this desktop (current) and the phone.
    await expect.poll(() => b.getByTestId('session-row').count()).toBe(2);
    await b.locator('[data-testid="session-row"][data-current="false"]').getByTestId('session-revoke').click();
    await expect.poll(() => b.getByTestId('session-row').count()).toBe(1);
    await phonePage.getByTestId('login-notice').waitFor();
    expect(new URL(phonePage.url()).pathname).toBe('/login');
    await shot(phonePage, 'phone-revoked');
  });

  it('blocks and unblocks a contact from the contact menu', async () => {
    await a.getByTestId('nav-contacts').click();
    await a.getByTestId(`contact-menu-${bob.username}`).click();
    await a.getByTestId(`contact-block-${bob.username}`).click();
    await a.getByTestId('confirm-dialog').waitFor();
    await shot(a, 'desktop-confirm-block');
    await a.getByTestId('confirm-ok').click();
    await a.getByTestId('blocked-toggle').click();
    await a.getByTestId(`blocked-${bob.username}`).waitFor();
    await a.getByTestId('nav-search').click();
    await a.getByTestId('search-input').fill(bob.username);
    await expect.poll(() => a.getByTestId(`search-result-${bob.username}`).getAttribute('data-relationship')).toBe('blocked');
    await a.getByTestId('nav-contacts').click();
    await a.getByTestId('blocked-toggle').click();
    await a.getByTestId(`unblock-${bob.username}`).click();
    await a.getByTestId(`blocked-${bob.username}`).waitFor({ state: 'detached' });
    // The friendship outlives a block: Bob is a contact again.
    await a.getByTestId(`contact-${bob.username}`).waitFor();
  });

  it('removes a friend after confirmation', async () => {
    await a.getByTestId(`contact-menu-${bob.username}`).click();
    await a.getByTestId(`contact-remove-${bob.username}`).click();
    await a.getByTestId('confirm-ok').click();
    await a.getByTestId(`contact-${bob.username}`).waitFor({ state: 'detached' });
    // Bob's side learns it live.
    await b.getByTestId('nav-contacts').click();
    await b.getByTestId(`contact-${alice.username}`).waitFor({ state: 'detached' });
  });

  it('marks a message the server refuses as failed, with retry and discard', async () => {
    // They are no longer friends, so the server refuses new messages in the old conversation.
    await a.getByTestId('nav-chats').click();
    await a.getByTestId(`conversation-${bob.username}`).click();
    await a.getByTestId('composer-input').fill('Are we still friends?');
    await a.getByTestId('composer-input').press('Enter');
    const failed = bubble(a, 'Are we still friends?');
    await expect.poll(() => failed.getAttribute('data-state')).toBe('failed');
    await a.getByTestId('message-retry').waitFor();
    await shot(a, 'desktop-failed');
    await a.getByTestId('message-discard').click();
    await failed.waitFor({ state: 'detached' });
  });

  it('looks right in dark mode, and signs out', async () => {
    const dark = await newUser(browser, DESKTOP, 'en-US', 'dark');
    contexts.push(dark.context);
    pageErrors.push(dark.pageErrors);
    await login(dark.page, server.url, bob.username, PASSWORD);
    await dark.page.getByTestId(`conversation-${alice.username}`).click();
    await bubble(dark.page, 'Back online after the crash').waitFor();
    await shot(dark.page, 'desktop-dark-chat');

    // Signing out lands on the login page and stays signed out across a reload (the cookie is gone).
    await dark.page.getByTestId('nav-settings').click();
    await dark.page.getByTestId('settings-logout').click();
    await dark.page.getByTestId('login-username').waitFor();
    await dark.page.goto(`${server.url}/settings`);
    await dark.page.getByTestId('login-username').waitFor();
    expect(new URL(dark.page.url()).pathname).toBe('/login');
  });

  it('raised no uncaught errors in any page', () => {
    expect(pageErrors.flat()).toEqual([]);
  });
});
