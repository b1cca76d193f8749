import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobNotFoundError, checkKey, type BlobStore } from '../../src/platform/blobs/blob-store.js';
import { LocalBlobStore } from '../../src/platform/blobs/local-blob-store.js';
import { S3BlobStore } from '../../src/platform/blobs/s3-blob-store.js';
import { startS3Proxy, type S3ProxyInstance } from '../support/s3proxy.js';

const MIB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A body that yields `bytes` in small pieces, as a socket would. */
function streamOf(bytes: Buffer, piece = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += piece) yield bytes.subarray(i, i + piece);
    })(),
  );
}

/** A body that sends `sent` bytes and then fails, like a client whose connection dropped half-way. */
function failingStream(sent: Buffer): Readable {
  let done = false;
  return new Readable({
    read() {
      if (done) return;
      done = true;
      this.push(sent);
      setTimeout(() => this.destroy(new Error('connection reset')), 20);
    },
  });
}

/**
 * One contract for every BlobStore adapter (Mattermost's storetest pattern): the local disk and S3 through a
 * real S3Proxy on loopback. Parts are 5 MiB where S3 needs it (every part but the last).
 */
function contract(name: string, open: () => Promise<BlobStore>) {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    const key = () => `f/${randomUUID()}`;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('puts, stats, reads whole and by range, deletes', async () => {
      const k = key();
      await store.put(k, Buffer.from('hello, blob store'), 'text/plain');
      expect(await store.stat(k)).toEqual({ size: 17 });
      expect(await text(await store.read(k))).toBe('hello, blob store');
      expect(await text(await store.read(k, { start: 7, end: 10 }))).toBe('blob');
      await store.delete(k);
      expect(await store.stat(k)).toBeNull();
      await store.delete(k); // idempotent
    });

    it('a missing object is BlobNotFoundError on read and null on stat', async () => {
      await expect(store.read(key())).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.stat(key())).toBeNull();
    });

    it('multipart: parts streamed in, object appears only on completion, byte for byte', async () => {
      const k = key();
      const first = randomBytes(5 * MIB);
      const last = randomBytes(123_457);
      const uploadId = await store.createUpload(k);
      const e1 = await store.uploadPart(k, uploadId, 1, streamOf(first), first.length);
      const e2 = await store.uploadPart(k, uploadId, 2, streamOf(last), last.length);
      expect(await store.stat(k)).toBeNull();
      await store.completeUpload(k, uploadId, [
        { partNumber: 1, etag: e1 },
        { partNumber: 2, etag: e2 },
      ]);
      expect(await store.stat(k)).toEqual({ size: first.length + last.length });
      const whole = await readAll(await store.read(k));
      expect(whole.equals(Buffer.concat([first, last]))).toBe(true);
      const middle = await readAll(await store.read(k, { start: 5 * MIB - 3, end: 5 * MIB + 2 }));
      expect(middle.equals(Buffer.concat([first.subarray(-3), last.subarray(0, 3)]))).toBe(true);
      await store.delete(k);
    });

    it('a part re-sent replaces the earlier copy; a part cut off half-way is not stored', async () => {
      const k = key();
      const uploadId = await store.createUpload(k);
      const part = randomBytes(200_000);
      await expect(store.uploadPart(k, uploadId, 1, failingStream(part.subarray(0, 50_000)), part.length)).rejects.toThrow();
      const etag1 = await store.uploadPart(k, uploadId, 1, streamOf(Buffer.alloc(part.length, 7)), part.length);
      const etag2 = await store.uploadPart(k, uploadId, 1, streamOf(part), part.length);
      expect(etag2).not.toBe(etag1);
      await store.completeUpload(k, uploadId, [{ partNumber: 1, etag: etag2 }]);
      expect((await readAll(await store.read(k))).equals(part)).toBe(true);
      await store.delete(k);
    });

    it('refuses to complete with an ETag it did not return', async () => {
      const k = key();
      const uploadId = await store.createUpload(k);
      await store.uploadPart(k, uploadId, 1, streamOf(Buffer.from('abc')), 3);
      await expect(store.completeUpload(k, uploadId, [{ partNumber: 1, etag: '0'.repeat(32) }])).rejects.toThrow();
      expect(await store.stat(k)).toBeNull();
      await store.abortUpload(k, uploadId);
    });

    // (Whether a part can still be sent to an aborted upload differs between servers; KKChat never does it: the
    // database row, removed with the abort, is what a part request checks first.)
    it('abort drops the upload, idempotently', async () => {
      const k = key();
      const uploadId = await store.createUpload(k);
      await store.uploadPart(k, uploadId, 1, streamOf(Buffer.from('abc')), 3);
      expect((await store.listUploads(Date.now() + 60_000)).some((u) => u.uploadId === uploadId && u.key === k)).toBe(true);
      await store.abortUpload(k, uploadId);
      await store.abortUpload(k, uploadId);
      expect((await store.listUploads(Date.now() + 60_000)).some((u) => u.uploadId === uploadId)).toBe(false);
      expect(await store.stat(k)).toBeNull();
    });

    it('lists only uploads started before the cut-off', async () => {
      const k = key();
      const uploadId = await store.createUpload(k);
      const old = await store.listUploads(Date.now() - 60_000);
      expect(old.some((u) => u.uploadId === uploadId)).toBe(false);
      await store.abortUpload(k, uploadId);
    });

    it('refuses keys that are not server-made', async () => {
      for (const bad of ['../x', 'f/../../x', '/tmp/x', 'f//x', 'F/Up', 'f/.hidden', 'f/x y', '']) {
        expect(() => checkKey(bad), bad).toThrow();
        await expect(store.put(bad, Buffer.from('x'), 'text/plain'), bad).rejects.toThrow();
      }
    });
  });
}

const localRoot = mkdtempSync(join(tmpdir(), 'kkchat-blobs-'));
afterAll(() => rmSync(localRoot, { recursive: true, force: true }));

contract('local disk', async () => {
  const store = new LocalBlobStore(localRoot);
  await store.init();
  return store;
});

let s3proxy: S3ProxyInstance | null = null;
afterAll(async () => {
  await s3proxy?.stop();
});

contract('S3 (S3Proxy on loopback)', async () => {
  s3proxy = await startS3Proxy();
  const env = s3proxy.env();
  const store = new S3BlobStore({
    endpoint: env.KKCHAT_S3_ENDPOINT!,
    bucket: env.KKCHAT_S3_BUCKET!,
    region: 'us-east-1',
    accessKeyId: env.KKCHAT_S3_ACCESS_KEY_ID!,
    secretAccessKey: env.KKCHAT_S3_SECRET_ACCESS_KEY!,
    forcePathStyle: true,
  });
  await store.init();
  return store;
});

describe('LocalBlobStore on disk', () => {
  it('keeps objects inside its root and leaves no part files after completion', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kkchat-blobs-'));
    try {
      const store = new LocalBlobStore(root);
      await store.init();
      const uploadId = await store.createUpload('f/abc');
      const etag = await store.uploadPart('f/abc', uploadId, 1, streamOf(Buffer.from('x')), 1);
      await store.completeUpload('f/abc', uploadId, [{ partNumber: 1, etag }]);
      expect(existsSync(join(root, 'objects', 'f', 'abc'))).toBe(true);
      expect(readdirSync(join(root, 'uploads'))).toEqual([]);
      expect(readdirSync(join(root, 'objects', 'f'))).toEqual(['abc']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
