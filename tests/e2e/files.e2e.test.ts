/**
 * Files in the browser: A sends an image, a file (picked and dropped, with its progress bar), a pasted image and a
 * voice clip; B sees the thumbnails, opens the viewer and downloads the file byte for byte; A sets a cropped avatar
 * that B then sees. Screenshots land in /tmp/kkchat-shots.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { api, befriend, registerUser } from '../../packages/server/test/support/raw-client';
import { startServerProcess, type ServerProcess } from '../../packages/server/test/support/server-process';
import { DESKTOP, ensureBuilt, launchCallBrowser, login, newUser, shot } from './support';

const REPORT = Buffer.from('Quarterly numbers\nrevenue: 42\ncosts: 17\n'.repeat(200));

describe('files and media in the browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let a: Page;
  let b: Page;
  const pageErrors: string[][] = [];
  let alice: Awaited<ReturnType<typeof registerUser>>;
  let bob: Awaited<ReturnType<typeof registerUser>>;

  beforeAll(async () => {
    ensureBuilt();
    server = await startServerProcess();
    // Fake microphone (and no permission prompt) for the voice clip.
    browser = await launchCallBrowser();
    alice = await registerUser(server.url, 'fa');
    bob = await registerUser(server.url, 'fb');
    await api(server.url, 'PATCH', '/users/me', { token: alice.accessToken, body: { displayName: 'Alice Martin' } });
    await api(server.url, 'PATCH', '/users/me', { token: bob.accessToken, body: { displayName: 'Bob Chen' } });
    await befriend(server.url, alice, bob);
    // Bob reads the app in Chinese: the file screens in both languages.
    for (const who of [alice, bob]) {
      const user = await newUser(browser, DESKTOP, who === alice ? 'en-US' : 'zh-CN');
      contexts.push(user.context);
      pageErrors.push(user.pageErrors);
      await login(user.page, server.url, who.user.username, who.password);
      if (who === alice) a = user.page;
      else b = user.page;
    }
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  async function openChat(page: Page, peer: typeof bob): Promise<void> {
    await page.getByTestId('nav-contacts').click();
    await page.getByTestId(`contact-${peer.user.username}`).click();
    await page.getByTestId('composer-input').waitFor();
  }

  it('A sends an image and a file from the picker; both are stored messages', async () => {
    await openChat(a, bob);
    const photo = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .composite([{ input: Buffer.from('<svg width="1200" height="800"><circle cx="600" cy="400" r="250" fill="#f5b400"/></svg>'), top: 0, left: 0 }])
      .jpeg()
      .toBuffer();
    await a.getByTestId('composer-file-input').setInputFiles([
      { name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: photo },
      { name: 'report.txt', mimeType: 'text/plain', buffer: REPORT },
    ]);
    await a.getByTestId('image-thumb').locator('img').waitFor();
    await a.getByTestId('file-card').filter({ hasText: 'report.txt' }).waitFor();
    await expect.poll(() => a.getByTestId('message').locator('[data-kind]').count()).toBe(2);
    await expect.poll(() => a.locator('[data-testid="message"][data-state="sent"]').count()).toBe(2);
    // Sent in the order they were picked, whichever finished uploading first.
    expect(await a.getByTestId('file-message').evaluateAll((els) => els.map((el) => el.getAttribute('data-kind')))).toEqual(['image', 'file']);
    await shot(a, 'files-a-sent');
  });

  it('B sees the thumbnail, opens it in the viewer and downloads the file byte for byte', async () => {
    await openChat(b, alice);
    const thumb = b.getByTestId('image-thumb').locator('img');
    await thumb.waitFor();
    await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(320);
    await shot(b, 'files-b-received');
    await b.getByTestId('image-thumb').click();
    const full = b.getByTestId('image-full');
    await full.waitFor();
    await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1200);
    await shot(b, 'files-b-viewer');
    await b.keyboard.press('Escape');
    await full.waitFor({ state: 'detached' });

    const card = b.getByTestId('file-card').filter({ hasText: 'report.txt' });
    expect(await card.textContent()).toContain('8 KB');
    const [download] = await Promise.all([b.waitForEvent('download'), card.getByTestId('file-download').click()]);
    expect(download.suggestedFilename()).toBe('report.txt');
    expect(readFileSync((await download.path())!).equals(REPORT)).toBe(true);
  });

  it('a file dropped on the chat is uploaded with a progress bar and sent', async () => {
    // 10 MB is two parts (8 MiB each by default); the server is kept from answering the second until the bar
    // has been seen, so the bar is checked mid-upload however fast this machine is.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const lastPart = /\/api\/v1\/uploads\/[^/]+\/parts\/2$/;
    await a.route(lastPart, async (route) => {
      await released;
      await route.continue();
    });
    await a.evaluate(() => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(10_000_000).fill(7)], 'dropped.bin', { type: 'application/octet-stream' }));
      const target = document.querySelector('[data-testid="chat-view"]')!;
      target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: data, bubbles: true }));
      target.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    const item = a.getByTestId('upload-item').filter({ hasText: 'dropped.bin' });
    const bar = item.getByRole('progressbar');
    try {
      // The first part (8.4 of 10 MB) is stored: the bar is at least 84% full and the line counts the bytes. The
      // fill animates its width, so its drawn width is polled.
      await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThanOrEqual(84);
      const filled = () => bar.evaluate((el) => (el.firstElementChild as HTMLElement).getBoundingClientRect().width / el.getBoundingClientRect().width);
      await expect.poll(filled).toBeGreaterThanOrEqual(0.83);
      expect(await item.textContent()).toContain('/ 10 MB');
      expect(await item.getAttribute('data-state')).toBe('uploading');
      await shot(a, 'files-a-upload-progress');
    } finally {
      // Whatever happened above, the held part goes on, so the tests after this one do not wait behind it.
      release();
    }
    await item.waitFor({ state: 'detached' });
    await a.unroute(lastPart);
    const card = b.getByTestId('file-card').filter({ hasText: 'dropped.bin' });
    await card.waitFor();
    await expect.poll(() => card.textContent()).toContain('10 MB');
  });

  it('an image pasted into the composer reaches the peer as an image with a thumbnail', async () => {
    await a.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 400;
      const ctx = canvas.getContext('2d')!;
      ctx.fillStyle = '#2a9d8f';
      ctx.fillRect(0, 0, 640, 400);
      ctx.fillStyle = '#e9c46a';
      ctx.fillRect(160, 100, 320, 200);
      const png = await new Promise<Blob>((resolve) => canvas.toBlob((blob) => resolve(blob!), 'image/png'));
      const data = new DataTransfer();
      data.items.add(new File([png], 'pasted.png', { type: 'image/png' }));
      const input = document.querySelector('[data-testid="composer-input"]') as HTMLElement;
      input.focus();
      input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    });
    const thumb = b.locator('[data-testid="image-thumb"][aria-label*="pasted.png"]');
    await thumb.locator('img').waitFor();
    expect(await thumb.locator('xpath=ancestor::*[@data-testid="file-message"][1]').getAttribute('data-kind')).toBe('image');
    await expect.poll(() => thumb.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(320);
    expect(await thumb.locator('img').evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(200);
    // The image went out as a file: nothing was typed into the composer.
    expect(await a.getByTestId('composer-input').inputValue()).toBe('');
    await a.locator('[data-testid="image-thumb"][aria-label*="pasted.png"] img').waitFor();
    await shot(b, 'files-b-pasted-image');
  });

  it('A records a voice clip; B gets an audio player', async () => {
    await a.getByTestId('voice-record').click();
    await a.getByTestId('voice-recording').waitFor();
    await a.waitForTimeout(1500);
    await shot(a, 'files-a-recording');
    await a.getByTestId('voice-send').click();
    const player = b.getByTestId('audio-player');
    await player.waitFor();
    // The clip the fake microphone recorded is served inline as a WebM/Ogg recording through B's signed link.
    const served = await player.evaluate((el: HTMLAudioElement) => fetch(el.src).then(async (r) => [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength] as const));
    expect(served[0]).toBe(200);
    expect(served[1]).toMatch(/^(audio|video)\/(webm|ogg)$/);
    expect(served[2]).toBeGreaterThan(1000);
    await shot(b, 'files-b-voice');
  });

  it('A records a short video in the page and drops it; B gets a video player', async () => {
    await a.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      const ctx = canvas.getContext('2d')!;
      const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm' });
      const chunks: Blob[] = [];
      recorder.ondataavailable = (event) => chunks.push(event.data);
      const stopped = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start(100);
      for (let frame = 0; frame < 30; frame++) {
        ctx.fillStyle = `hsl(${frame * 12} 70% 50%)`;
        ctx.fillRect(0, 0, 320, 240);
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      recorder.stop();
      await stopped;
      const data = new DataTransfer();
      data.items.add(new File(chunks, 'clip.webm', { type: 'video/webm' }));
      document.querySelector('[data-testid="chat-view"]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    const player = b.getByTestId('video-player');
    await player.waitFor();
    const served = await player.evaluate((el: HTMLVideoElement) => fetch(el.src).then((r) => [r.status, r.headers.get('content-type')] as const));
    expect(served).toEqual([200, 'video/webm']);
    await shot(b, 'files-b-video-zh');
  });

  it('A sets a cropped avatar; it shows in A sidebar and in B chat header', async () => {
    await a.getByTestId('nav-settings').click();
    const portrait = await sharp({ create: { width: 600, height: 900, channels: 3, background: { r: 220, g: 60, b: 90 } } })
      .composite([{ input: Buffer.from('<svg width="600" height="900"><circle cx="300" cy="330" r="150" fill="#ffe08a"/><rect x="120" y="520" width="360" height="380" rx="160" fill="#ffe08a"/></svg>'), top: 0, left: 0 }])
      .png()
      .toBuffer();
    await a.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: portrait });
    await a.getByTestId('avatar-cropper').waitFor();
    await a.getByTestId('avatar-zoom').fill('1.5');
    await shot(a, 'files-a-crop');
    await a.getByTestId('avatar-crop-save').click();
    await a.getByTestId('avatar-cropper').waitFor({ state: 'detached' });
    await a.locator('.identity [data-testid="avatar-image"]').waitFor();
    await shot(a, 'files-a-avatar');
    const headerAvatar = b.locator('[data-testid="avatar-image"]').first();
    await headerAvatar.waitFor();
    await expect.poll(() => headerAvatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(320);
    await shot(b, 'files-b-sees-avatar');
  });

  it('raised no page errors', () => {
    expect(pageErrors.flat()).toEqual([]);
  });
});
