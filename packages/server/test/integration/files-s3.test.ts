import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortedPart, completeUpload, createUpload, download, fileLinks, pngBytes, putPart, putPartWhenFree, uploadFile } from '../support/files.js';
import { api, friends, nextRid, startServer } from '../support/helpers.js';
import { startS3Proxy, type S3ProxyInstance } from '../support/s3proxy.js';
import type { TestServer } from '../support/test-server.js';

const MIB = 1024 * 1024;

/** The whole file path on the S3 adapter, against a real S3Proxy on loopback (S3's 5 MiB minimum part size). */
describe('files on S3 (S3Proxy)', () => {
  let s3: S3ProxyInstance;
  let server: TestServer;
  let clock = Date.now();

  beforeAll(async () => {
    s3 = await startS3Proxy();
    server = await startServer({ ...s3.env(), KKCHAT_UPLOAD_PART_BYTES: String(5 * MIB), KKCHAT_UPLOAD_EXPIRY_SEC: '3600' }, { now: () => clock });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await s3?.stop();
  });

  it('uploads in 5 MiB parts with a dropped part resumed, and downloads whole and by range', async () => {
    const { a, b, conversationId } = await friends(server, 's3');
    const bytes = randomBytes(11 * MIB + 17);
    const { body } = await createUpload(server.url, a, { name: 'big.bin', size: bytes.length });
    const id = body.upload.id;
    expect(body.upload.partSize).toBe(5 * MIB);
    expect((await putPart(server.url, a, id, 1, bytes.subarray(0, 5 * MIB))).status).toBe(200);
    await abortedPart(server.url, a, id, 2, 5 * MIB, bytes.subarray(5 * MIB, 6 * MIB));
    expect((await api<{ upload: { received: number } }>(server.url, 'GET', `/uploads/${id}`, { token: a.accessToken })).body.upload.received).toBe(5 * MIB);
    expect((await putPartWhenFree(server.url, a, id, 2, bytes.subarray(5 * MIB, 10 * MIB))).status).toBe(200);
    expect((await putPart(server.url, a, id, 3, bytes.subarray(10 * MIB))).status).toBe(200);
    const file = (await completeUpload(server.url, a, id)).body.file;
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    await api(server.url, 'POST', `/conversations/${conversationId}/messages`, { token: a.accessToken, body: { clientMsgId: nextRid('c'), kind: 'file', fileId: file.id } });
    const link = (await fileLinks(server.url, b, [file.id])).body.links[0]!;
    const whole = await download(server.url, link.url);
    expect(whole.body.equals(bytes)).toBe(true);
    const range = await download(server.url, link.url, { range: `bytes=${5 * MIB - 5}-${5 * MIB + 4}` });
    expect(range.status).toBe(206);
    expect(range.body.equals(bytes.subarray(5 * MIB - 5, 5 * MIB + 5))).toBe(true);
  });

  it('makes thumbnails for images stored on S3', async () => {
    const { a } = await friends(server, 's3i');
    const file = await uploadFile(server.url, a, await pngBytes(800, 400), 'wide.png');
    expect(file).toMatchObject({ width: 800, height: 400, thumbnail: { width: 320, height: 160 } });
    const link = (await fileLinks(server.url, a, [file.id])).body.links[0]!;
    const thumb = await download(server.url, link.thumbnailUrl!);
    expect(thumb.status).toBe(200);
    expect(thumb.body.subarray(0, 4).toString()).toBe('RIFF');
  });

  it('an abandoned upload is aborted on S3 by the cleanup job', async () => {
    const { a } = await friends(server, 's3c');
    const { body } = await createUpload(server.url, a, { name: 'left.bin', size: 6 * MIB });
    expect((await putPart(server.url, a, body.upload.id, 1, randomBytes(5 * MIB))).status).toBe(200);
    const store = server.kkchat.platform.blobs;
    const before = await store.listUploads(Date.now() + 3600_000);
    expect(before.some((u) => u.key === `f/${body.upload.id}`)).toBe(true);
    clock += 2 * 3600_000;
    const report = await server.kkchat.fileCleanup.runOnce();
    expect(report.expiredUploads).toBeGreaterThanOrEqual(1);
    const after = await store.listUploads(Date.now() + 3600_000);
    expect(after.some((u) => u.key === `f/${body.upload.id}`)).toBe(false);
  });
});
