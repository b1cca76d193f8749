import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Screenshots for a person to look at; not committed. */
export const SHOTS_DIR = '/tmp/kkchat-shots';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Keep the browser on loopback: no name resolution (and so no IPv6 reachability probe), no WebRTC
  // interface discovery beyond what a test sets up.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
];

/** Builds the server and the web app when their build output is missing (a fresh clone). */
export function ensureBuilt(): void {
  if (!existsSync(resolve(ROOT, 'packages/server/dist/main.js'))) {
    execFileSync('npx', ['tsc', '-b', 'packages/server'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!existsSync(resolve(ROOT, 'packages/web/dist/index.html'))) {
    execFileSync('npm', ['run', 'build', '-w', '@kkchat/web'], { cwd: ROOT, stdio: 'inherit' });
  }
}

export function launchBrowser(): Promise<Browser> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: process.env.KKCHAT_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * A browser for call tests: Chromium's fake camera and microphone, permission prompts auto-accepted, and
 * peer connections allowed on loopback. The WebRTC IP-handling flag is left out (it would forbid the UDP a call
 * needs); the pages instead set `window.__kkchatIceFilter = 'loopback'`, so only 127.0.0.1 candidates are
 * offered and accepted and the media never leaves this machine.
 */
export function launchCallBrowser(): Promise<Browser> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: process.env.KKCHAT_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      ...CHROMIUM_ARGS.filter((arg) => !arg.startsWith('--force-webrtc-ip-handling-policy')),
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export interface Viewport {
  width: number;
  height: number;
}
export const DESKTOP: Viewport = { width: 1280, height: 800 };
export const PHONE: Viewport = { width: 390, height: 844 };

/** A browser context pinned to a language, with console errors collected for the assertions. */
export async function newUser(
  browser: Browser,
  viewport: Viewport,
  locale = 'en-US',
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ context: BrowserContext; page: Page; dialogs: string[]; pageErrors: string[] }> {
  const context = await browser.newContext({
    viewport,
    locale,
    colorScheme,
    deviceScaleFactor: viewport === PHONE ? 2 : 1,
    isMobile: viewport === PHONE,
    hasTouch: viewport === PHONE,
  });
  // Fail a step in seconds, not the runner's two minutes, so a broken flow names the step that broke.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return { context, page, dialogs, pageErrors };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS_DIR}/${name}.png` });
}

export async function register(page: Page, baseUrl: string, username: string, displayName: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/register`);
  await page.getByTestId('register-username').fill(username);
  await page.getByTestId('register-display-name').fill(displayName);
  await page.getByTestId('register-password').fill(password);
  await page.getByTestId('register-confirm').fill(password);
  await page.getByTestId('register-submit').click();
  await page.getByTestId('nav-chats').waitFor();
}

export async function login(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-chats').waitFor();
}

/** The message bubbles of the open chat that contain `text`. */
export function bubble(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}
