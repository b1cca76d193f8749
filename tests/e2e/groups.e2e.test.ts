/**
 * Three people in three browsers: the owner creates a group from friends (with a description and a picture cropped
 * to a square), everyone chats live, a mention is highlighted for the member it names, the owner changes the group
 * picture, and a removed member sees the group turn read-only and stops receiving.
 * Screenshots land in /tmp/kkchat-shots (groups-*.png).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { befriend, registerUser } from '../../packages/server/test/support/raw-client';
import { startServerProcess, type ServerProcess } from '../../packages/server/test/support/server-process';
import { DESKTOP, PHONE, bubble, ensureBuilt, launchBrowser, login, newUser, shot } from './support';

const GROUP = 'Climbers';
const ABOUT = 'Bouldering on Saturday mornings';

/** A picture of `width`×`height`: a background with a disc of another colour in the middle. */
function picture(width: number, height: number, background: string, disc: string): Promise<Buffer> {
  const svg = `<svg width="${width}" height="${height}"><rect width="100%" height="100%" fill="${background}"/><circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 3}" fill="${disc}"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** The shown avatar picture once loaded: its size and the colour at its centre. */
function shownPicture(avatar: Locator): Promise<{ width: number; height: number; centre: number[] }> {
  return avatar.evaluate(async (img: HTMLImageElement) => {
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const centre = Array.from(ctx.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data.slice(0, 3));
    return { width: img.naturalWidth, height: img.naturalHeight, centre };
  });
}

/** Close to an RGB colour (PNG thumbnails are re-encoded, so allow a little drift). */
function near(actual: number[], expected: [number, number, number]): boolean {
  return actual.every((value, i) => Math.abs(value - expected[i]!) <= 12);
}

describe('a group chat in three browsers', () => {
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[][] = [];
  let owner: Page;
  let max: Page;
  let kim: Page;
  let names: { owner: string; max: string; kim: string };
  let maxName: string;
  let maxPassword: string;

  beforeAll(async () => {
    ensureBuilt();
    server = await startServerProcess();
    browser = await launchBrowser();
    const [o, m, k] = [await registerUser(server.url, 'olga'), await registerUser(server.url, 'max'), await registerUser(server.url, 'kim')];
    await befriend(server.url, o, m);
    await befriend(server.url, o, k);
    names = { owner: o.user.username, max: m.user.username, kim: k.user.username };
    maxName = m.user.displayName || m.user.username;
    maxPassword = m.password;
    const pages: Page[] = [];
    for (const user of [o, m, k]) {
      const session = await newUser(browser, DESKTOP);
      contexts.push(session.context);
      pageErrors.push(session.pageErrors);
      await login(session.page, server.url, user.user.username, user.password);
      pages.push(session.page);
    }
    [owner, max, kim] = pages as [Page, Page, Page];
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  it('the owner creates a group from friends with a description and a cropped picture; the members see it live', async () => {
    await owner.getByTestId('new-group').click();
    await owner.getByTestId('create-group-name').fill(GROUP);
    await owner.getByTestId('create-group-description').fill(ABOUT);
    // A wide picture, framed to a square in the cropper before the group exists.
    await owner.getByTestId('create-group-avatar-file').setInputFiles({ name: 'crag.png', mimeType: 'image/png', buffer: await picture(900, 500, '#1d3557', '#ffd60a') });
    await owner.getByTestId('avatar-cropper').waitFor();
    await owner.getByTestId('avatar-zoom').fill('1.2');
    await owner.getByTestId('avatar-crop-save').click();
    await owner.getByTestId('avatar-cropper').waitFor({ state: 'detached' });
    await owner.getByTestId('create-group-picture').waitFor();
    await expect.poll(() => owner.getByTestId('create-group-picture').evaluate((img: HTMLImageElement) => img.complete && [img.naturalWidth, img.naturalHeight])).toEqual([512, 512]);
    await owner.getByTestId(`create-group-pick-${names.max}`).check();
    await owner.getByTestId(`create-group-pick-${names.kim}`).check();
    await shot(owner, 'groups-create-dialog');
    await owner.getByTestId('create-group-submit').click();
    await owner.getByTestId('group-name').waitFor();
    expect(await owner.getByTestId('group-name').textContent()).toBe(GROUP);
    await owner.getByTestId('system-message').first().waitFor();
    for (const page of [max, kim]) {
      const item = page.getByTestId(`conversation-group-${GROUP}`);
      await item.getByTestId('avatar-image').waitFor();
      await item.click();
      await page.getByTestId('group-name').waitFor();
      // The member sees the square the owner framed: the yellow disc in the middle of a 320×320 thumbnail.
      const shown = await shownPicture(page.locator('.group-head [data-testid="avatar-image"]'));
      expect([shown.width, shown.height]).toEqual([320, 320]);
      expect(near(shown.centre, [0xff, 0xd6, 0x0a]), `centre ${shown.centre}`).toBe(true);
    }
    await max.getByTestId('group-panel-toggle').click();
    expect(await max.getByTestId('group-description').textContent()).toBe(ABOUT);
    await shot(max, 'groups-member-sees-picture');
    await max.getByTestId('group-panel-close').click();
  });

  it('messages reach every member live, with sender names; a mention is highlighted for its member', async () => {
    await owner.getByTestId('composer-input').fill('Hello climbers');
    await owner.getByTestId('composer-send').click();
    for (const page of [max, kim]) await bubble(page, 'Hello climbers').waitFor();
    await kim.getByTestId('composer-input').fill(`@${maxName} are you in on Saturday?`);
    await kim.getByTestId('composer-send').click();
    await bubble(max, 'Saturday').waitFor();
    await bubble(owner, 'Saturday').waitFor();
    // The mention is its own highlighted span, and the bubble is marked for Max only.
    expect(await bubble(max, 'Saturday').getByTestId('mention').textContent()).toBe(`@${maxName}`);
    expect(await bubble(max, 'Saturday').getAttribute('class')).toContain('mentioned');
    expect(await bubble(owner, 'Saturday').getAttribute('class')).not.toContain('mentioned');
    expect(await max.getByTestId('message-sender').allTextContents()).toContain(names.kim);
    await max.getByTestId('composer-input').fill('Count me in');
    await max.getByTestId('composer-send').click();
    for (const page of [owner, kim]) await bubble(page, 'Count me in').waitFor();
    await shot(max, 'groups-chat-mention');
  });

  it('the owner sets an announcement shown in every header', async () => {
    await owner.getByTestId('group-panel-toggle').click();
    await owner.getByTestId('group-settings-announcement').fill('Meet at the gym, 9:00');
    await owner.getByTestId('group-settings-save').click();
    for (const page of [owner, max, kim]) {
      await page.getByTestId('group-announcement').filter({ hasText: 'Meet at the gym' }).waitFor();
    }
    await shot(owner, 'groups-owner-panel');
  });

  it('the owner changes the group picture in settings; members see the new square picture', async () => {
    await owner.getByTestId('group-settings').getByTestId('avatar-file').setInputFiles({ name: 'tall.png', mimeType: 'image/png', buffer: await picture(400, 700, '#2a9d8f', '#e63946') });
    await owner.getByTestId('avatar-cropper').waitFor();
    await owner.getByTestId('avatar-crop-save').click();
    await owner.getByTestId('avatar-cropper').waitFor({ state: 'detached' });
    for (const page of [max, kim]) {
      const avatar = page.locator('.group-head [data-testid="avatar-image"]');
      // The red disc replaces the yellow one once the new picture arrives.
      await expect.poll(async () => near((await shownPicture(avatar)).centre, [0xe6, 0x39, 0x46])).toBe(true);
      const shown = await shownPicture(avatar);
      expect([shown.width, shown.height]).toEqual([320, 320]);
    }
    await shot(kim, 'groups-member-sees-new-picture');
  });

  it('a removed member sees the group turn read-only and receives nothing more', async () => {
    await owner.getByTestId(`remove-${names.kim}`).click();
    await owner.getByTestId('confirm-ok').click();
    await kim.getByTestId('group-read-only').waitFor();
    await owner.getByTestId(`group-member-${names.kim}`).waitFor({ state: 'detached' });
    await owner.getByTestId('composer-input').fill('After Kim left');
    await owner.getByTestId('composer-send').click();
    await bubble(max, 'After Kim left').waitFor();
    // Give a stray push time to arrive before checking that none did.
    await kim.waitForTimeout(1000);
    expect(await bubble(kim, 'After Kim left').count()).toBe(0);
    expect(await bubble(kim, 'Count me in').count()).toBe(1);
    expect(await kim.getByTestId('composer-input').count()).toBe(0);
    await shot(kim, 'groups-removed-read-only');
    await shot(max, 'groups-member-after-removal');
  });

  it('the removed member re-joins through an open invite link and sees nothing posted while out', async () => {
    await owner.getByTestId('group-settings-join-mode').selectOption('open');
    await owner.getByTestId('group-settings-save').click();
    await owner.getByTestId('group-new-link').click();
    const url = await owner.getByTestId('group-invite-link').inputValue();
    expect(url).toContain('/join/');
    await kim.goto(url);
    await kim.getByTestId('join-group-name').waitFor();
    expect(await kim.getByTestId('join-group-name').textContent()).toBe(GROUP);
    await shot(kim, 'groups-join-link');
    await kim.getByTestId('join-group-submit').click();
    await kim.getByTestId('composer-input').waitFor();
    await owner.getByTestId('composer-input').fill('Welcome back');
    await owner.getByTestId('composer-send').click();
    await bubble(kim, 'Welcome back').waitFor();
    expect(await bubble(kim, 'After Kim left').count()).toBe(0);
    await kim.getByTestId('composer-input').fill('Glad to be back');
    await kim.getByTestId('composer-send').click();
    await bubble(max, 'Glad to be back').waitFor();
    await shot(kim, 'groups-rejoined');
  });

  it('works on a phone: the group chat, then the member panel over it', async () => {
    const phone = await newUser(browser, PHONE);
    contexts.push(phone.context);
    pageErrors.push(phone.pageErrors);
    await login(phone.page, server.url, names.max, maxPassword);
    await phone.page.getByTestId(`conversation-group-${GROUP}`).click();
    await bubble(phone.page, 'Glad to be back').waitFor();
    await shot(phone.page, 'groups-phone-chat');
    await phone.page.getByTestId('group-panel-toggle').click();
    await phone.page.getByTestId('group-panel').waitFor();
    await shot(phone.page, 'groups-phone-panel');
    await phone.page.getByTestId('group-panel-close').click();
    await phone.page.getByTestId('group-panel').waitFor({ state: 'detached' });
    await phone.page.getByTestId('composer-input').waitFor();
  });

  it('had no uncaught errors on any page', () => {
    for (const errors of pageErrors) expect(errors).toEqual([]);
  });
});
