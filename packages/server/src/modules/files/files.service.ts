import type { Readable } from 'node:stream';
import type { Kysely, Transaction } from 'kysely';
import type { AttachmentContent, FileLink, FileResponse, FilePurpose } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import type { DB } from '../../platform/db/schema.js';
import type { BlobStore, ByteRange } from '../../platform/blobs/blob-store.js';
import type { AttachmentPreparer, ServerMessageContent } from '../conversations/conversations.service.js';
import type { WithinStore } from '../conversations/conversations.repository.js';
import type { FileLinkSigner, FileVariant } from './files.links.js';
import { thumbKey, toFileInfo } from './files.mapper.js';
import type { FileRepository, FileRow } from './files.repository.js';
import { fitsKind, RASTER_IMAGES } from './files.types.js';

/** What a download serves: the object's key and what the response says about it. */
export interface FileContent {
  key: string;
  size: number;
  mime: string;
  name: string;
  sha256: string;
  variant: FileVariant;
}

/**
 * Stored files: who may read them (BR-19), signed links, downloads, the attachment step of the send path,
 * avatars, and what account deletion and message removal do to files (docs/architecture.md, "Files").
 */
export class FileService implements AttachmentPreparer {
  constructor(
    private readonly platform: Platform,
    private readonly repo: FileRepository,
    private readonly store: BlobStore,
    private readonly signer: FileLinkSigner,
  ) {}

  /** A file's metadata and links; 404 alike for a missing file and one the actor may not read. */
  async getFile(actor: Actor, fileId: string): Promise<FileResponse> {
    const [row] = await this.repo.findReady([fileId]);
    if (!row || !(await this.readable(actor.userId, [row])).has(row.id)) throw new AppError('FILE_NOT_FOUND');
    return { file: toFileInfo(row), purpose: row.purpose as FilePurpose, link: this.linkFor(actor.userId, row) };
  }

  /** Links for the files the actor may read, in the order asked; the others are left out. */
  async links(actor: Actor, fileIds: string[]): Promise<FileLink[]> {
    const rows = await this.repo.findReady([...new Set(fileIds)]);
    const readable = await this.readable(actor.userId, rows);
    const byId = new Map(rows.filter((r) => readable.has(r.id)).map((r) => [r.id, r]));
    return [...new Set(fileIds)].flatMap((id) => {
      const row = byId.get(id);
      return row ? [this.linkFor(actor.userId, row)] : [];
    });
  }

  /** Checks a signed link's signature and expiry (not yet the access, which `content` re-checks). */
  verifyLink(fileId: string, variant: FileVariant, userId: string, expiresAt: number, signature: string): void {
    const verdict = this.signer.verify(fileId, variant, userId, expiresAt, signature, this.platform.now());
    if (verdict === 'invalid') throw new AppError('FILE_LINK_INVALID');
    if (verdict === 'expired') throw new AppError('FILE_LINK_EXPIRED');
  }

  /** What `userId` downloads for (file, variant), access re-checked now; 404 for anything they may not read. */
  async content(userId: string, fileId: string, variant: FileVariant): Promise<FileContent> {
    const [row] = await this.repo.findReady([fileId]);
    if (!row || !(await this.readable(userId, [row])).has(row.id)) throw new AppError('FILE_NOT_FOUND');
    if (variant === 'thumb') {
      if (row.thumb_width === null) throw new AppError('FILE_NOT_FOUND');
      const stat = await this.store.stat(thumbKey(row.storage_key));
      if (!stat) throw new AppError('FILE_NOT_FOUND');
      return { key: thumbKey(row.storage_key), size: stat.size, mime: 'image/webp', name: row.name.replace(/(\.[^.]*)?$/, '.webp'), sha256: `${row.sha256}-t`, variant };
    }
    return { key: row.storage_key, size: Number(row.size), mime: row.mime, name: row.name, sha256: row.sha256 ?? '', variant };
  }

  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.store.read(key, range);
  }

  /** The send path's file step (see AttachmentPreparer): the sender's ready attachment, fitting the kind. */
  async prepareAttachment(actor: Actor, input: AttachmentContent, conversationId: string): Promise<{ content: ServerMessageContent; attach: WithinStore }> {
    const row = await this.repo.find(input.fileId);
    if (!row || row.owner_id !== actor.userId || row.status !== 'ready' || row.purpose !== 'attachment') throw new AppError('FILE_NOT_FOUND');
    if (!fitsKind(input.kind, { mime: row.mime, hasThumbnail: row.thumb_width !== null })) throw new AppError('FILE_KIND_MISMATCH');
    const timed = input.kind === 'audio' || input.kind === 'video';
    return {
      content: { kind: input.kind, file: toFileInfo(row), ...(timed ? { durationMs: input.durationMs ?? null } : {}) },
      attach: async (trx, seq) => {
        if (!(await this.repo.attach(trx, row.id, actor.userId, conversationId, seq))) throw new AppError('FILE_NOT_FOUND');
      },
    };
  }

  /** Makes the actor's uploaded avatar referenced; the caller then stores its id (user or group). */
  async claimAvatar(actorId: string, fileId: string): Promise<void> {
    const row = await this.repo.find(fileId);
    if (!row || row.owner_id !== actorId || row.status !== 'ready' || row.purpose !== 'avatar') throw new AppError('FILE_NOT_FOUND');
    if (!RASTER_IMAGES.has(row.mime) || row.thumb_width === null) throw new AppError('FILE_KIND_MISMATCH', { message: 'An avatar must be a JPEG, PNG, GIF, WebP or AVIF image.' });
    if (!(await this.repo.claim(fileId, actorId, 'avatar'))) throw new AppError('FILE_NOT_FOUND');
  }

  /** Files something stopped referring to (a replaced avatar); the sweep removes them after the grace period. */
  async release(fileIds: string[]): Promise<void> {
    await this.repo.release(fileIds.filter(Boolean), this.platform.now());
  }

  /**
   * Message removal (administration): the messages' attachments go, and their files are released for the
   * sweep (which deletes them once nothing else refers to them).
   */
  async releaseAttachments(conversationId: string, seqs: number[], trx?: Kysely<DB> | Transaction<DB>): Promise<void> {
    const fileIds = await this.repo.detach(conversationId, seqs, trx);
    await this.repo.release(fileIds.filter(Boolean), this.platform.now(), trx);
  }

  /**
   * Account deletion (administration): the avatar, unfinished uploads and files no message carries are marked
   * for deletion now and removed by the sweep; files in messages stay while those messages do (they are part of
   * other people's history).
   */
  async purgeAccount(userId: string, trx?: Kysely<DB> | Transaction<DB>): Promise<number> {
    const ids = await this.repo.purgeableOf(userId, trx);
    await this.repo.markDeleting(ids, this.platform.now(), trx);
    return ids.length;
  }

  private linkFor(userId: string, row: FileRow): FileLink {
    const expiresAt = this.signer.expiryFrom(this.platform.now());
    return {
      fileId: row.id,
      url: this.signer.link(row.id, 'original', userId, expiresAt),
      downloadUrl: this.signer.link(row.id, 'original', userId, expiresAt, true),
      thumbnailUrl: row.thumb_width === null ? null : this.signer.link(row.id, 'thumb', userId, expiresAt),
      expiresAt,
    };
  }

  /**
   * Who may read a file (BR-19): its uploader; anyone signed in for an avatar; otherwise someone for whom one of
   * the messages carrying it lies in their visible range of its conversation (departed group members keep the
   * files of what they saw, nothing after; later joiners nothing before).
   */
  private async readable(userId: string, rows: FileRow[]): Promise<Set<string>> {
    const open = new Set(rows.filter((r) => r.owner_id === userId || r.purpose === 'avatar').map((r) => r.id));
    const rest = rows.filter((r) => !open.has(r.id)).map((r) => r.id);
    for (const id of await this.repo.visibleAttachments(userId, rest)) open.add(id);
    return open;
  }
}
