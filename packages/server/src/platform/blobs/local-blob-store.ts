import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobNotFoundError,
  BlobUploadError,
  checkKey,
  type BlobPart,
  type BlobStore,
  type ByteRange,
  type PendingBlobUpload,
} from './blob-store.js';

const UPLOAD_ID = /^[0-9a-f-]{36}$/;

/**
 * Blobs on the local disk: `<root>/objects/<key>` and, while an upload is open, `<root>/uploads/<id>/` holding
 * `key` (what the upload will become) and one file per part, `<n>-<etag>.part`. A part is written to a
 * temporary name and renamed into place, so a part that is there is whole; completion concatenates the parts
 * into a temporary object and renames it, so a reader never sees a half-written object.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  private readonly objects: string;
  private readonly uploads: string;

  constructor(root: string) {
    this.objects = join(resolve(root), 'objects');
    this.uploads = join(resolve(root), 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.objects, { recursive: true });
    await mkdir(this.uploads, { recursive: true });
  }

  async createUpload(key: string): Promise<string> {
    checkKey(key);
    const uploadId = randomUUID();
    const dir = this.uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'key'), `${key}\n${Date.now()}\n`);
    return uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Readable, length: number): Promise<string> {
    const dir = await this.openUpload(key, uploadId);
    const tmp = join(dir, `${partNumber}.tmp-${randomBytes(6).toString('hex')}`);
    const md5 = createHash('md5');
    let received = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > length) return done(new BlobUploadError(`part ${partNumber} is longer than ${length} bytes`));
        md5.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmp, { flags: 'wx' }));
      if (received !== length) throw new BlobUploadError(`part ${partNumber} has ${received} of ${length} bytes`);
      const etag = md5.digest('hex');
      for (const name of await readdir(dir)) {
        if (name.startsWith(`${partNumber}-`) && name.endsWith('.part')) await rm(join(dir, name), { force: true });
      }
      await rename(tmp, join(dir, `${partNumber}-${etag}.part`));
      return etag;
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  async completeUpload(key: string, uploadId: string, parts: BlobPart[]): Promise<void> {
    const dir = await this.openUpload(key, uploadId);
    const files = parts.map((part) => join(dir, `${part.partNumber}-${part.etag}.part`));
    for (const [index, file] of files.entries()) {
      if (!(await exists(file))) throw new BlobUploadError(`part ${parts[index]!.partNumber} with ETag ${parts[index]!.etag} is missing`);
    }
    const target = this.objectPath(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(concat(files), createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    await rm(dir, { recursive: true, force: true });
  }

  async abortUpload(_key: string, uploadId: string): Promise<void> {
    if (!UPLOAD_ID.test(uploadId)) return;
    await rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }

  async listUploads(before: number): Promise<PendingBlobUpload[]> {
    const found: PendingBlobUpload[] = [];
    for (const uploadId of await readdir(this.uploads).catch(() => [] as string[])) {
      if (!UPLOAD_ID.test(uploadId)) continue;
      const meta = await readFile(join(this.uploadDir(uploadId), 'key'), 'utf8').catch(() => null);
      const [key, started] = (meta ?? '').split('\n');
      const initiatedAt = Number(started);
      // A directory without its key file is a crash during createUpload: list it so the sweep removes it.
      if (!meta) found.push({ key: '', uploadId, initiatedAt: 0 });
      else if (key && initiatedAt < before) found.push({ key, uploadId, initiatedAt });
    }
    return found;
  }

  async put(key: string, body: Buffer): Promise<void> {
    const target = this.objectPath(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, body, { flag: 'wx' });
    await rename(tmp, target);
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    // Opened first, so a missing object is an error here and not a failing stream later.
    const handle = await open(this.objectPath(key), 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new BlobNotFoundError(key) : error;
    });
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<{ size: number } | null> {
    const info = await stat(this.objectPath(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    return info ? { size: info.size } : null;
  }

  async delete(key: string): Promise<void> {
    await rm(this.objectPath(key), { force: true });
  }

  async close(): Promise<void> {}

  private objectPath(key: string): string {
    const path = join(this.objects, checkKey(key));
    // checkKey already rules out `..`; this is the second lock on the same door (BR-25).
    if (!path.startsWith(this.objects + sep)) throw new Error(`blob key escapes the store: ${key}`);
    return path;
  }

  private uploadDir(uploadId: string): string {
    return join(this.uploads, uploadId);
  }

  /** The upload's directory, checked to exist and to belong to `key`. */
  private async openUpload(key: string, uploadId: string): Promise<string> {
    checkKey(key);
    if (!UPLOAD_ID.test(uploadId)) throw new BlobNotFoundError(`upload ${uploadId}`);
    const dir = this.uploadDir(uploadId);
    const meta = await readFile(join(dir, 'key'), 'utf8').catch(() => null);
    if (meta?.split('\n')[0] !== key) throw new BlobNotFoundError(`upload ${uploadId}`);
    return dir;
  }
}

/** The files one after another, as one stream (read one at a time, with backpressure). */
function concat(files: string[]): Readable {
  return Readable.from(
    (async function* () {
      for (const file of files) yield* createReadStream(file);
    })(),
  );
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
