import type { FileLink, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, newAdmin } from '../support/admin.js';
import { createUpload, fileLinks, pngBytes, uploadFile } from '../support/files.js';
import { api, friends, nextRid, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Administration and files (the files module's retention rule): removing a file message takes its file out of
 * everyone's reach, deleting an account deletes its avatar and unfinished uploads but not the files in other
 * people's history, and the dashboard counts the bytes stored.
 */
let server: TestServer;
let admin: ReturnType<typeof adminApi>;
let boss: User;

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
  boss = await newAdmin(server, 'fboss');
});
afterAll(async () => {
  await server.close();
});

const linkFor = async (user: User, fileId: string): Promise<FileLink | null> =>
  (await fileLinks(server.url, user, [fileId])).body.links.find((l) => l.fileId === fileId) ?? null;
const statusOf = async (fileId: string) =>
  (await server.kkchat.platform.db.selectFrom('files').select('status').where('id', '=', fileId).executeTakeFirst())?.status;

describe('administration and files', () => {
  it('a removed file message: its file is no longer readable by the peer, and it is released for the sweep', async () => {
    const { a, b, conversationId } = await friends(server, 'af');
    const file = await uploadFile(server.url, a, Buffer.alloc(3000, 7), 'report.pdf');
    const sent = await api<{ message: Message }>(server.url, 'POST', `/conversations/${conversationId}/messages`, {
      token: a.accessToken,
      body: { clientMsgId: nextRid('f'), kind: 'file', fileId: file.id },
    });
    expect(sent.status).toBe(201);
    expect(await linkFor(b, file.id)).not.toBeNull();

    const removed = await admin.removeMessage(boss, conversationId, sent.body.message.seq);
    expect(removed.body.message.kind).toBe('removed');
    expect(await linkFor(b, file.id)).toBeNull();
    const row = await server.kkchat.platform.db.selectFrom('files').select('released_at').where('id', '=', file.id).executeTakeFirst();
    expect(row?.released_at).not.toBeNull();
  });

  it('a deleted account: avatar and unfinished uploads are deleted, a file in someone else’s history stays', async () => {
    const { a: gone, b: peer, conversationId } = await friends(server, 'ad');
    const avatar = await uploadFile(server.url, gone, await pngBytes(128, 128), 'me.png', { purpose: 'avatar' });
    await api(server.url, 'PUT', '/users/me/avatar', { token: gone.accessToken, body: { fileId: avatar.id } });
    const unfinished = (await createUpload(server.url, gone, { name: 'half.bin', size: 10_000 })).body.upload.id;
    const shared = await uploadFile(server.url, gone, Buffer.alloc(2000, 1), 'shared.pdf');
    await api(server.url, 'POST', `/conversations/${conversationId}/messages`, {
      token: gone.accessToken,
      body: { clientMsgId: nextRid('f'), kind: 'file', fileId: shared.id },
    });

    expect((await admin.remove(boss, gone.user.id)).status).toBe(200);
    expect(await statusOf(avatar.id)).toBe('deleting');
    expect(await statusOf(unfinished)).toBe('deleting');
    expect(await statusOf(shared.id)).toBe('ready');
    expect(await linkFor(peer, shared.id)).not.toBeNull();
    const profile = await api<{ user: { avatar: string; deleted?: boolean } }>(server.url, 'GET', `/users/${gone.user.id}`, { token: peer.accessToken });
    expect(profile.body.user).toMatchObject({ avatar: '', deleted: true });
  });

  it('the dashboard counts the bytes of stored files', async () => {
    const before = (await admin.call<{ storage: { available: boolean; usedBytes: number } }>(boss, 'GET', '/stats')).body.storage;
    expect(before.available).toBe(true);
    const { a } = await friends(server, 'as');
    await uploadFile(server.url, a, Buffer.alloc(12_345, 3), 'big.bin');
    const after = (await admin.call<{ storage: { usedBytes: number } }>(boss, 'GET', '/stats')).body.storage;
    expect(after.usedBytes - before.usedBytes).toBe(12_345);
  });
});
