import { createHash, randomUUID, type Hash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { CreateUploadRequest, FileInfo, Upload } from '@kkchat/protocol';
import { CreateUploadRequestSchema } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import type { BlobStore } from '../../platform/blobs/blob-store.js';
import { sanitizeFileName } from './files.names.js';
import { isBlockedMime, isBlockedName } from './files.types.js';
import { describeImage, hashStored, sniffStored } from './files.media.js';
import { thumbKey, toFileInfo, toUpload } from './files.mapper.js';
import type { FileRepository, FileRow } from './files.repository.js';

/** A part's writer holds the upload this long, renewed while bytes keep arriving (a crashed node's lease lapses). */
const PART_LEASE_MS = 60_000;
const LEASE_RENEW_MS = 20_000;
/** Completion (assemble, hash, thumbnail) holds the upload this long. */
const COMPLETION_LEASE_MS = 5 * 60_000;

/**
 * Resumable uploads: create, receive parts (streamed to the blob store), report progress, complete (sniff,
 * hash, thumbnail), cancel. The session is the `files` row, so any node can continue it (docs/architecture.md,
 * "Files").
 */
export class UploadService {
  private readonly hashes = new RunningHashes();

  constructor(
    private readonly platform: Platform,
    private readonly repo: FileRepository,
    private readonly store: BlobStore,
  ) {}

  async createUpload(actor: Actor, raw: CreateUploadRequest): Promise<Upload> {
    const input = CreateUploadRequestSchema.parse(raw);
    const { files } = this.platform.config;
    // Refused before anything is stored: no row, no object, so nothing can ever point at an empty file (BR-22).
    if (input.size === 0) throw new AppError('FILE_EMPTY');
    if (input.size > files.maxBytes) throw new AppError('FILE_TOO_LARGE', { message: `Files may be at most ${files.maxBytes} bytes.` });
    const name = sanitizeFileName(input.name);
    if (isBlockedName(name)) throw new AppError('FILE_TYPE_BLOCKED');
    const decision = await this.platform.limiter.consume(`upload:${actor.userId}`, this.platform.config.limits.uploadPerUser);
    if (!decision.allowed) throw new AppError('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs });
    if ((await this.repo.countPending(actor.userId)) >= files.maxPendingPerUser) throw new AppError('UPLOAD_LIMIT_REACHED');

    const now = this.platform.now();
    const id = randomUUID();
    const row = {
      id,
      owner_id: actor.userId,
      purpose: input.purpose,
      status: 'uploading',
      name,
      size: input.size,
      part_size: files.partBytes,
      storage_key: `f/${id}`,
      expires_at: now + files.uploadExpiryMs,
      created_at: now,
      updated_at: now,
    };
    // The row first: every object the store will hold belongs to a row the sweep can see.
    await this.repo.insert(row);
    try {
      await this.repo.setMultipartId(id, await this.store.createUpload(row.storage_key), now);
    } catch (error) {
      await this.repo.remove(id);
      throw error;
    }
    return toUpload({ ...row, received: 0, mime: '', sha256: null, width: null, height: null, thumb_width: null, thumb_height: null, multipart_id: null, writer: null, writer_until: null, released_at: null, completed_at: null });
  }

  async getUpload(actor: Actor, id: string): Promise<Upload> {
    return toUpload(await this.own(actor, id));
  }

  /**
   * Streams part `partNumber` into the store. Everything that can refuse it is checked before the body is read
   * (the route then closes the connection instead of reading the rest): the part must be the next one and exactly
   * its size; the body is cut at that size whatever it claims (BR-21). The part counts once it is fully stored.
   */
  async receivePart(actor: Actor, id: string, partNumber: number, contentLength: number | undefined, body: Readable): Promise<Upload> {
    const row = await this.own(actor, id);
    if (row.status !== 'uploading') throw new AppError('UPLOAD_OFFSET_MISMATCH', { message: 'Every part of this upload has been received.' });
    const received = Number(row.received);
    const partSize = Number(row.part_size);
    if (partNumber !== received / partSize + 1) {
      throw new AppError('UPLOAD_OFFSET_MISMATCH', { message: `The server has ${received} bytes; send part ${received / partSize + 1}.` });
    }
    const length = Math.min(partSize, Number(row.size) - received);
    if (contentLength === undefined) throw new AppError('LENGTH_REQUIRED');
    if (contentLength > length) throw new AppError('FILE_TOO_LARGE', { message: `Part ${partNumber} must be ${length} bytes.` });
    if (contentLength < length) throw new AppError('UPLOAD_PART_INVALID', { message: `Part ${partNumber} must be ${length} bytes.` });

    const token = randomUUID();
    if (!(await this.repo.claimPart(id, token, received, this.platform.now() + PART_LEASE_MS, this.platform.now()))) {
      throw new AppError('UPLOAD_BUSY', { retryAfterMs: 1000 });
    }
    const hash = this.hashes.fork(id, received);
    const renew = setInterval(() => void this.repo.renewLease(id, token, this.platform.now() + PART_LEASE_MS).catch(() => undefined), LEASE_RENEW_MS);
    try {
      const metered = meter(body, length, hash);
      const etag = await this.store.uploadPart(row.storage_key, row.multipart_id ?? '', partNumber, metered.stream, length);
      if (metered.count() !== length) throw new AppError('UPLOAD_PART_INVALID');
      if (!(await this.repo.recordPart(id, token, { partNumber, etag, size: length }, received + length, this.platform.now()))) {
        throw new AppError('UPLOAD_BUSY', { retryAfterMs: 1000 });
      }
      if (hash) this.hashes.commit(id, received + length, hash);
      return toUpload({ ...row, received: received + length });
    } catch (error) {
      await this.repo.releaseLease(id, token).catch(() => undefined);
      throw error;
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Assembles the object, sniffs its type (blocked content is deleted and refused), hashes it and describes
   * images. Idempotent: completing a ready upload returns its file.
   */
  async completeUpload(actor: Actor, id: string): Promise<FileInfo> {
    const row = await this.own(actor, id);
    if (row.status === 'ready') return toFileInfo(row);
    if (Number(row.received) < Number(row.size)) throw new AppError('UPLOAD_INCOMPLETE');
    const token = randomUUID();
    if (!(await this.repo.claimCompletion(id, token, this.platform.now() + COMPLETION_LEASE_MS, this.platform.now()))) {
      const again = await this.repo.find(id);
      if (again?.status === 'ready') return toFileInfo(again);
      throw new AppError('UPLOAD_BUSY', { retryAfterMs: 1000 });
    }
    try {
      return await this.finish(row, token);
    } catch (error) {
      await this.repo.releaseLease(id, token).catch(() => undefined);
      throw error;
    }
  }

  async cancelUpload(actor: Actor, id: string): Promise<void> {
    const row = await this.own(actor, id);
    if (row.status === 'ready') throw new AppError('UPLOAD_NOT_FOUND', { message: 'This upload is complete; it cannot be cancelled.' });
    if (await this.repo.markUploadDeleting(id, this.platform.now())) await discardFile(this.store, this.repo, row);
    this.hashes.drop(id);
  }

  private async finish(row: FileRow, token: string): Promise<FileInfo> {
    const key = row.storage_key;
    const size = Number(row.size);
    const stored = await this.store.stat(key);
    // A completion that crashed after assembling finds the object already there.
    if (stored?.size !== size) {
      const parts = await this.repo.parts(row.id);
      await this.store.completeUpload(key, row.multipart_id ?? '', parts.map((p) => ({ partNumber: Number(p.part_number), etag: p.etag })));
    }
    const mime = await sniffStored(this.store, key, size);
    if (isBlockedMime(mime)) {
      await this.repo.markUploadDeleting(row.id, this.platform.now());
      await discardFile(this.store, this.repo, { ...row, multipart_id: null });
      this.hashes.drop(row.id);
      throw new AppError('FILE_TYPE_BLOCKED');
    }
    const sha256 = this.hashes.take(row.id, size) ?? (await hashStored(this.store, key));
    const image = await describeImage(this.store, key, mime, size);
    if (image?.thumbnail) await this.store.put(thumbKey(key), image.thumbnail.buffer, 'image/webp');
    const fields = {
      mime,
      sha256,
      width: image?.width ?? null,
      height: image?.height ?? null,
      thumb_width: image?.thumbnail?.width ?? null,
      thumb_height: image?.thumbnail?.height ?? null,
    };
    if (!(await this.repo.markReady(row.id, token, fields, this.platform.now()))) throw new AppError('UPLOAD_BUSY', { retryAfterMs: 1000 });
    return toFileInfo({ ...row, ...fields });
  }

  /** The actor's own upload; anyone else's (or a missing one) answers alike (BR-19). */
  private async own(actor: Actor, id: string): Promise<FileRow> {
    const row = await this.repo.find(id);
    if (!row || row.owner_id !== actor.userId || row.status === 'deleting') throw new AppError('UPLOAD_NOT_FOUND');
    return row;
  }
}

/** Deletes a file's objects (and its open multipart upload), then its row: the row goes last (see cleanup). */
export async function discardFile(store: BlobStore, repo: FileRepository, row: Pick<FileRow, 'id' | 'storage_key' | 'multipart_id'>): Promise<void> {
  if (row.multipart_id) await store.abortUpload(row.storage_key, row.multipart_id);
  await store.delete(row.storage_key);
  await store.delete(thumbKey(row.storage_key));
  await repo.remove(row.id);
}

/**
 * Counts the bytes of `body` into the store, failing the stream past `length` (a body longer than it said),
 * and feeds the running hash. A client that drops half-way errors the stream, so the store's part fails.
 */
function meter(body: Readable, length: number, hash: Hash | null): { stream: Readable; count(): number } {
  let count = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      count += chunk.length;
      if (count > length) return done(new AppError('FILE_TOO_LARGE', { message: 'The part is longer than its Content-Length.' }));
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  pipeline(body, stream, () => undefined);
  return { stream, count: () => count };
}

/** Most uploads whose running hash a node keeps; past this the oldest is forgotten (and re-read at completion). */
const MAX_RUNNING_HASHES = 10_000;

/**
 * sha-256 while streaming: per upload, the hash of the bytes received in order on this node. Each part works on
 * a copy (`fork`), committed only when the part is stored, so a failed part leaves it intact. When parts came
 * through several nodes (or after a restart) there is no hash covering the file and completion reads it once.
 */
class RunningHashes {
  private readonly byUpload = new Map<string, { received: number; hash: Hash }>();

  fork(id: string, received: number): Hash | null {
    if (received === 0) return createHash('sha256');
    const known = this.byUpload.get(id);
    return known && known.received === received ? known.hash.copy() : null;
  }

  commit(id: string, received: number, hash: Hash): void {
    this.byUpload.delete(id);
    if (this.byUpload.size >= MAX_RUNNING_HASHES) this.byUpload.delete(this.byUpload.keys().next().value as string);
    this.byUpload.set(id, { received, hash });
  }

  /** The digest when this node saw every byte, else null; forgets the upload either way. */
  take(id: string, size: number): string | null {
    const known = this.byUpload.get(id);
    this.byUpload.delete(id);
    return known && known.received === size ? known.hash.digest('hex') : null;
  }

  drop(id: string): void {
    this.byUpload.delete(id);
  }
}
