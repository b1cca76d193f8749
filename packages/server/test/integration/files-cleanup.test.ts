import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpload, putPart, uploadFile } from '../support/files.js';
import { api, friends, nextRid, startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

const HOUR = 3600_000;

describe('file cleanup: abandoned uploads and unreferenced files leave nothing behind', () => {
  let server: TestServer;
  let clock = Date.now();
  const objects = () => readdirSync(join(server.config.dataDir, 'blobs', 'objects', 'f')).sort();
  const rows = async (ids: string[]) =>
    (await server.kkchat.platform.db.selectFrom('files').select('id').where('id', 'in', ids).execute()).map((r) => r.id).sort();
  const openUploads = () => readdirSync(join(server.config.dataDir, 'blobs', 'uploads'));

  beforeAll(async () => {
    server = await startServer({ KKCHAT_UPLOAD_EXPIRY_SEC: '3600', KKCHAT_UNATTACHED_FILE_TTL_SEC: '7200' }, { now: () => clock });
    server.config.files.partBytes = 64 * 1024;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('removes expired uploads, never-sent files and replaced avatars; keeps what messages and avatars use', async () => {
    const { a, conversationId } = await friends(server, 'cl');
    // An upload abandoned half-way (one part of two), an upload never started, a file never sent, a file sent.
    const half = (await createUpload(server.url, a, { name: 'half.bin', size: 128 * 1024 })).body.upload;
    expect((await putPart(server.url, a, half.id, 1, randomBytes(64 * 1024))).status).toBe(200);
    const idle = (await createUpload(server.url, a, { name: 'idle.bin', size: 10 })).body.upload;
    const unsent = await uploadFile(server.url, a, randomBytes(100), 'unsent.bin');
    const sent = await uploadFile(server.url, a, randomBytes(100), 'sent.bin');
    await api(server.url, 'POST', `/conversations/${conversationId}/messages`, { token: a.accessToken, body: { clientMsgId: nextRid('c'), kind: 'file', fileId: sent.id } });
    const avatar1 = await uploadFile(server.url, a, await import('../support/files.js').then((m) => m.pngBytes()), 'a1.png', { purpose: 'avatar' });
    const avatar2 = await uploadFile(server.url, a, await import('../support/files.js').then((m) => m.pngBytes(30, 30)), 'a2.png', { purpose: 'avatar' });
    expect((await api(server.url, 'PUT', '/users/me/avatar', { token: a.accessToken, body: { fileId: avatar1.id } })).status).toBe(200);
    expect((await api(server.url, 'PUT', '/users/me/avatar', { token: a.accessToken, body: { fileId: avatar2.id } })).status).toBe(200);
    expect(openUploads().length).toBe(2);

    // Nothing is due yet.
    expect(await server.kkchat.fileCleanup.runOnce()).toMatchObject({ deleted: 0 });

    clock += 1.5 * HOUR; // past the upload expiry, not the unreferenced grace period
    expect(await server.kkchat.fileCleanup.runOnce()).toMatchObject({ expiredUploads: 2, unreferencedFiles: 0, deleted: 2 });
    expect(openUploads()).toEqual([]);
    // (Access tokens have expired on this clock; the rows themselves tell.)
    expect(await rows([half.id, idle.id])).toEqual([]);

    clock += 1 * HOUR; // now past the grace period of the unsent file and the replaced avatar
    expect(await server.kkchat.fileCleanup.runOnce()).toMatchObject({ unreferencedFiles: 2, deleted: 2 });
    const left = objects();
    expect(left).toContain(sent.id);
    expect(left).toContain(avatar2.id);
    expect(left).not.toContain(unsent.id);
    expect(left).not.toContain(avatar1.id);
    expect(left.some((name) => name.startsWith(avatar1.id))).toBe(false); // the thumbnail went too
    expect(await rows([unsent.id, avatar1.id, sent.id, avatar2.id])).toEqual([sent.id, avatar2.id].sort());
  });

  it('aborts multipart uploads the store holds without a record (a crash between creating and recording)', async () => {
    const store = server.kkchat.platform.blobs;
    const orphan = await store.createUpload('f/00000000-0000-4000-8000-000000000000');
    // The store stamps the upload with the real time; the server's clock is already hours ahead of it.
    expect((await server.kkchat.fileCleanup.runOnce()).orphanUploads).toBe(1);
    expect((await store.listUploads(Date.now() + HOUR)).some((u) => u.uploadId === orphan)).toBe(false);
  });

  it('an account deletion removes its avatar, unfinished uploads and unsent files, not what others received', async () => {
    clock = Date.now(); // fresh tokens for this test
    const { a, b, conversationId } = await friends(server, 'pa');
    const sent = await uploadFile(server.url, a, randomBytes(50), 'kept.bin');
    await api(server.url, 'POST', `/conversations/${conversationId}/messages`, { token: a.accessToken, body: { clientMsgId: nextRid('c'), kind: 'file', fileId: sent.id } });
    const unsent = await uploadFile(server.url, a, randomBytes(50), 'dropped.bin');
    await createUpload(server.url, a, { name: 'pending.bin', size: 10 });
    expect(await server.kkchat.services.files.purgeAccount(a.user.id)).toBe(2);
    await server.kkchat.fileCleanup.runOnce();
    expect(objects()).toContain(sent.id);
    expect(objects()).not.toContain(unsent.id);
    expect((await api(server.url, 'GET', `/files/${sent.id}`, { token: b.accessToken })).status).toBe(200);
  });
});
