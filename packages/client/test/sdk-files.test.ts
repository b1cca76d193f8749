/**
 * The SDK's files API against the real server: a resumable upload that survives a dropped part, progress that
 * only moves forward, cancel, and a file message sent through the outbox that the peer receives with its links.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Message } from '@kkchat/protocol';
import { KKChatClient } from '@kkchat/client';
// Test support of the server package (test code only).
import { api, befriend, eventually, registerUser, startServer } from '../../server/test/support/helpers.js';
import type { TestServer } from '../../server/test/support/test-server.js';

const PART = 64 * 1024;

describe('SDK files API against the real server', () => {
  let server: TestServer;
  const clients: KKChatClient[] = [];
  /** Fails the first attempt at each part listed, as a dropped connection would (after sending nothing). */
  const dropOnce = new Set<number>();

  const flakyFetch: typeof fetch = async (input, init) => {
    const match = /\/uploads\/[^/]+\/parts\/(\d+)$/.exec(String(input));
    if (match && init?.method === 'PUT' && dropOnce.delete(Number(match[1]))) throw new TypeError('fetch failed: socket hang up');
    return fetch(input, init);
  };

  function sdk(): KKChatClient {
    const client = new KKChatClient({ baseUrl: server.url, WebSocket, fetch: flakyFetch, reconnect: { minDelayMs: 10, maxDelayMs: 50 }, gapFillDelayMs: 20 });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    server = await startServer();
    server.config.files.partBytes = PART;
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.close();
  });

  it('uploads through a dropped part, reports monotonic progress, and delivers the file message to the peer', async () => {
    const a = await registerUser(server.url, 'sfa');
    const b = await registerUser(server.url, 'sfb');
    const conversationId = await befriend(server.url, a, b);
    const alice = sdk();
    const bob = sdk();
    await alice.auth.login({ username: a.user.username, password: a.password });
    await bob.auth.login({ username: b.user.username, password: b.password });
    await alice.connect();
    await bob.connect();
    const received: Message[] = [];
    bob.on('message', (message) => received.push(message));

    const bytes = randomBytes(3 * PART + 99);
    const progress: number[] = [];
    dropOnce.add(2);
    const file = await alice.files.upload(new Uint8Array(bytes), { name: 'notes.bin', onProgress: (sent) => progress.push(sent) });
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(dropOnce.size).toBe(0); // the drop happened and was recovered from
    expect(progress.at(-1)).toBe(bytes.length);
    expect(progress.every((value, i) => i === 0 || value >= progress[i - 1]!)).toBe(true);

    const stored = await alice.sendFileAndWait(conversationId, 'file', file);
    expect(stored).toMatchObject({ kind: 'file', file: { id: file.id, name: 'notes.bin' } });
    const message = (await eventually(() => received.find((m) => m.kind === 'file') ?? false)) as Message;
    const [link] = await bob.files.links([file.id]);
    expect(link!.url.startsWith(server.url)).toBe(true);
    const downloaded = Buffer.from(await (await fetch(link!.url)).arrayBuffer());
    expect(downloaded.equals(bytes)).toBe(true);
    expect(message.seq).toBe(stored.seq);
  });

  it('an aborted upload is cancelled on the server', async () => {
    const a = await registerUser(server.url, 'sfc');
    const alice = sdk();
    await alice.auth.login({ username: a.user.username, password: a.password });
    const controller = new AbortController();
    let uploadId = '';
    const pending = alice.files.upload(new Uint8Array(randomBytes(4 * PART)), {
      name: 'big.bin',
      signal: controller.signal,
      onCreated: (upload) => (uploadId = upload.id),
      onProgress: (sent) => sent >= PART && controller.abort(),
    });
    await expect(pending).rejects.toThrow();
    // The promise rejects once the server has removed the upload.
    expect((await api(server.url, 'GET', `/uploads/${uploadId}`, { token: a.accessToken })).status).toBe(404);
    expect(await server.kkchat.platform.db.selectFrom('files').select('id').where('id', '=', uploadId).execute()).toEqual([]);
  });
});
