/**
 * Voice and video calls between browsers with Chromium's fake camera and microphone: a video call that
 * connects both ways and leaves a record in both chats, then busy, reject, no-answer and a denied camera.
 * Media stays on 127.0.0.1 (see launchCallBrowser). Screenshots land in /tmp/kkchat-shots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { befriend, registerUser } from '../../packages/server/test/support/raw-client';
import { startServerProcess, type ServerProcess } from '../../packages/server/test/support/server-process';
import { DESKTOP, ensureBuilt, launchCallBrowser, login, shot } from './support';

const RING_MS = 6000;

interface Person {
  username: string;
  password: string;
  page: Page;
}

/** What the test reads from a page's peer connection. */
interface PcState {
  connectionState: string | null;
  receivedKinds: string[];
  remoteWidth: number;
}

async function pcState(page: Page): Promise<PcState> {
  return page.evaluate(() => {
    const hooks = window as unknown as { __kkchatCall?: { pc: RTCPeerConnection | null } };
    const pc = hooks.__kkchatCall?.pc ?? null;
    const video = document.querySelector('[data-testid="call-remote-video"]') as HTMLVideoElement | null;
    return {
      connectionState: pc?.connectionState ?? null,
      receivedKinds: (pc?.getReceivers() ?? [])
        .filter((r) => r.track.readyState === 'live' && !r.track.muted)
        .map((r) => r.track.kind)
        .sort(),
      remoteWidth: video?.videoWidth ?? 0,
    };
  });
}

/** The caller's own camera in the call view: shown, playing, with frames of a real size. */
async function localPreview(page: Page): Promise<{ visible: boolean; playing: boolean; width: number; height: number }> {
  const video = page.getByTestId('call-local-video');
  const visible = await video.isVisible();
  return video.evaluate((el, shown) => {
    const v = el as HTMLVideoElement;
    return { visible: shown, playing: !v.paused && v.readyState >= 2 && v.srcObject !== null, width: v.videoWidth, height: v.videoHeight };
  }, visible);
}

/**
 * Every host candidate the other side signaled, and the remote end of each nominated candidate pair. Host
 * candidates must all be 127.0.0.1; a nominated end may also be peer-reflexive (learned from a check that
 * arrived over loopback; the browser hides its address).
 */
async function remoteEnds(page: Page): Promise<{ type: string; address: string }[]> {
  return page.evaluate(async () => {
    const pc = (window as unknown as { __kkchatCall?: { pc: RTCPeerConnection | null } }).__kkchatCall?.pc;
    if (!pc) return [];
    const stats = await pc.getStats();
    const ends: { type: string; address: string }[] = [];
    stats.forEach((report: { type: string; candidateType?: string; address?: string; state?: string; nominated?: boolean; remoteCandidateId?: string }) => {
      // Every candidate the other side signaled, used or not.
      if (report.type === 'remote-candidate' && report.candidateType === 'host') ends.push({ type: 'host', address: report.address ?? '' });
      if (report.type !== 'candidate-pair' || report.state !== 'succeeded' || !report.nominated || !report.remoteCandidateId) return;
      const candidate = stats.get(report.remoteCandidateId) as { address?: string; candidateType?: string } | undefined;
      ends.push({ type: candidate?.candidateType ?? '?', address: candidate?.address ?? '' });
    });
    return ends;
  });
}

describe('calls in the browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let alice: Person;
  let bob: Person;
  let carol: Person;
  let abConversation: string;
  let cbConversation: string;

  async function person(prefix: string): Promise<Person & { id: string; token: string; auth: Awaited<ReturnType<typeof registerUser>> }> {
    const auth = await registerUser(server.url, prefix);
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    context.setDefaultTimeout(15_000);
    await context.grantPermissions(['camera', 'microphone'], { origin: server.url });
    await context.addInitScript(() => {
      (window as unknown as { __kkchatIceFilter: string }).__kkchatIceFilter = 'loopback';
    });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${prefix}: ${error.message}`));
    return { username: auth.user.username, password: auth.password, page, id: auth.user.id, token: auth.accessToken, auth };
  }

  beforeAll(async () => {
    ensureBuilt();
    server = await startServerProcess({ env: { KKCHAT_CALL_RING_TIMEOUT_MS: String(RING_MS) } });
    browser = await launchCallBrowser();
    const a = await person('alice');
    const b = await person('bob');
    const c = await person('carol');
    abConversation = await befriend(server.url, a.auth, b.auth);
    cbConversation = await befriend(server.url, c.auth, b.auth);
    [alice, bob, carol] = [a, b, c];
    for (const p of [alice, bob, carol]) await login(p.page, server.url, p.username, p.password);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
  });

  async function openChat(p: Person, conversationId: string): Promise<void> {
    await p.page.goto(`${server.url}/chat/${conversationId}`);
    await p.page.getByTestId('composer-input').waitFor();
  }

  /**
   * The call screen's phase, read in one step: a locator that checks for the screen and then reads its attribute
   * would, when the screen closes in between, wait its full timeout for an element that is gone.
   */
  function phase(p: Person): Promise<string> {
    return p.page.evaluate(() => document.querySelector('[data-testid="call-screen"]')?.getAttribute('data-phase') ?? 'idle');
  }

  /** The notice shown after a call ('' when none); read at once, since it shows only for a few seconds. */
  function notice(p: Person): Promise<string> {
    return p.page.evaluate(() => document.querySelector('[data-testid="call-notice"]')?.textContent ?? '');
  }

  it('A video-calls B, B answers: both connections connect and each side receives the other\'s audio and video', async () => {
    await openChat(alice, abConversation);
    await openChat(bob, abConversation);
    await alice.page.getByTestId('call-start-video').click();
    await expect.poll(() => phase(alice)).toBe('outgoing');
    await expect.poll(() => alice.page.getByTestId('call-status').textContent()).toContain('Ringing');
    // While it rings, the caller already sees their own camera.
    await expect.poll(async () => (await localPreview(alice.page)).visible, { timeout: 10_000 }).toBe(true);
    await expect.poll(async () => (await localPreview(alice.page)).width, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await localPreview(alice.page)).toMatchObject({ visible: true, playing: true, height: expect.any(Number) });
    await expect.poll(() => phase(bob)).toBe('incoming');
    expect(await bob.page.getByTestId('call-status').textContent()).toContain('Incoming video call');
    await shot(alice.page, 'call-outgoing');
    await shot(bob.page, 'call-incoming');

    await bob.page.getByTestId('call-accept-video').click();
    for (const p of [alice, bob]) {
      await expect.poll(() => phase(p), { timeout: 20_000 }).toBe('active');
      await expect.poll(async () => (await pcState(p.page)).connectionState, { timeout: 20_000 }).toBe('connected');
      await expect.poll(async () => (await pcState(p.page)).receivedKinds, { timeout: 20_000 }).toEqual(['audio', 'video']);
      await expect.poll(async () => (await pcState(p.page)).remoteWidth, { timeout: 20_000 }).toBeGreaterThan(0);
      const ends = await remoteEnds(p.page);
      expect(ends.length).toBeGreaterThan(0);
      for (const end of ends) expect(end.type === 'prflx' || end.address === '127.0.0.1', JSON.stringify(end)).toBe(true);
    }
    // Mute and camera off are toggles on the local tracks.
    await alice.page.getByTestId('call-mute').click();
    expect(await alice.page.getByTestId('call-mute').getAttribute('aria-pressed')).toBe('true');
    await alice.page.getByTestId('call-camera').click();
    expect(await alice.page.getByTestId('call-camera').getAttribute('aria-pressed')).toBe('true');
    // Camera off hides the preview; back on, it plays again.
    await expect.poll(async () => (await localPreview(alice.page)).visible).toBe(false);
    await alice.page.getByTestId('call-camera').click();
    await expect.poll(async () => (await localPreview(alice.page)).visible).toBe(true);
    await expect.poll(async () => (await localPreview(alice.page)).width, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await localPreview(alice.page)).playing).toBe(true);
    await alice.page.waitForTimeout(1500);
    expect(await alice.page.getByTestId('call-status').textContent()).toMatch(/^\d+:\d\d$/);
    await shot(alice.page, 'call-active-a');
    await shot(bob.page, 'call-active-b');

    await alice.page.getByTestId('call-hangup').click();
    // The notice shows for a few seconds: watch both pages at once, not one after the other.
    await Promise.all(
      [alice, bob].map(async (p) => {
        await expect.poll(() => phase(p)).toBe('idle');
        await expect.poll(() => notice(p)).toContain('Call ended');
      }),
    );
    for (const p of [alice, bob]) {
      const record = p.page.getByTestId('call-record').last();
      await record.waitFor();
      expect(await record.getAttribute('data-outcome')).toBe('completed');
      expect(await record.textContent()).toMatch(/Video call · \d+:\d\d/);
    }
    await shot(bob.page, 'call-record');
  });

  it('busy: C calls B while B is in a call with A; C is told at once and B\'s call goes on', async () => {
    await openChat(alice, abConversation);
    await openChat(bob, abConversation);
    await alice.page.getByTestId('call-start-audio').click();
    await expect.poll(() => phase(bob)).toBe('incoming');
    expect(await bob.page.getByTestId('call-accept-video').count()).toBe(0);
    await bob.page.getByTestId('call-accept-audio').click();
    await expect.poll(() => phase(alice), { timeout: 20_000 }).toBe('active');

    await openChat(carol, cbConversation);
    await carol.page.getByTestId('call-start-video').click();
    await expect.poll(() => notice(carol)).toContain('is in another call');
    expect(await phase(carol)).toBe('idle');
    await shot(carol.page, 'call-busy');
    const record = carol.page.getByTestId('call-record').last();
    await record.waitFor();
    expect(await record.getAttribute('data-outcome')).toBe('busy');
    expect(await phase(bob)).toBe('active');
    expect(await phase(alice)).toBe('active');

    await bob.page.getByTestId('call-hangup').click();
    await expect.poll(() => phase(alice)).toBe('idle');
  });

  it('reject: B declines and A is told', async () => {
    await alice.page.getByTestId('call-start-audio').click();
    await expect.poll(() => phase(bob)).toBe('incoming');
    await bob.page.getByTestId('call-reject').click();
    await expect.poll(() => notice(alice)).toContain('declined the call');
    expect(await phase(alice)).toBe('idle');
    expect(await phase(bob)).toBe('idle');
    await expect.poll(() => alice.page.getByTestId('call-record').last().getAttribute('data-outcome')).toBe('rejected');
    await shot(alice.page, 'call-rejected');
  });

  it('no answer: after the ring timeout both sides stop and a missed call is recorded', async () => {
    await alice.page.getByTestId('call-start-video').click();
    await expect.poll(() => phase(bob)).toBe('incoming');
    await Promise.all([
      expect.poll(() => notice(alice), { timeout: RING_MS + 5000 }).toContain('did not answer'),
      expect.poll(() => notice(bob), { timeout: RING_MS + 5000 }).toContain('You missed a call'),
    ]);
    expect(await phase(bob)).toBe('idle');
    await expect.poll(() => bob.page.getByTestId('call-record').last().getAttribute('data-outcome')).toBe('missed');
    await expect.poll(() => bob.page.getByTestId('call-record').last().textContent()).toContain('Missed video call');
    await shot(bob.page, 'call-missed');
  });

  it('a denied camera shows a message, not a blank screen, and rings nobody', async () => {
    await alice.page.evaluate(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    const recordsBefore = await bob.page.getByTestId('call-record').count();
    await alice.page.getByTestId('call-start-video').click();
    await expect.poll(() => notice(alice)).toContain('cannot use your camera or microphone');
    expect(await phase(alice)).toBe('idle');
    await shot(alice.page, 'call-permission-denied');
    await bob.page.waitForTimeout(500);
    expect(await phase(bob)).toBe('idle');
    expect(await bob.page.getByTestId('call-record').count()).toBe(recordsBefore);
  });

  it('offline: calling someone with no connected device says so; they ring once they come online', async () => {
    await alice.page.reload();
    await alice.page.getByTestId('composer-input').waitFor();
    await bob.page.goto('about:blank');
    await alice.page.getByTestId('call-start-audio').click();
    await expect.poll(() => alice.page.getByTestId('call-status').textContent()).toContain('is offline');
    await shot(alice.page, 'call-unreachable');
    await bob.page.goto(`${server.url}/`);
    await expect.poll(() => phase(bob), { timeout: 15_000 }).toBe('incoming');
    await expect.poll(() => alice.page.getByTestId('call-status').textContent()).toContain('Ringing');
    await alice.page.getByTestId('call-hangup').click();
    await expect.poll(() => phase(bob)).toBe('idle');
    await expect.poll(() => alice.page.getByTestId('call-record').last().getAttribute('data-outcome')).toBe('cancelled');
  });

  it('raised no uncaught page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
