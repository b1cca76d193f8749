import { z } from 'zod';
import { LIMITS } from './limits.js';
import { FileInfoSchema, Id, Timestamp } from './models.js';

/**
 * Uploads and downloads (`/api/v1/uploads`, `/api/v1/files`). An upload is resumable: create it, send its parts
 * (`PUT /uploads/{id}/parts/{n}`, raw bytes), ask for `received` after a dropped connection, then complete it.
 * See docs/protocol.md ("Files") and docs/architecture.md ("Files").
 */

/** `attachment`: for messages; `avatar`: a profile or group picture (readable by every signed-in user). */
export const FilePurposeSchema = z.enum(['attachment', 'avatar']);
export type FilePurpose = z.infer<typeof FilePurposeSchema>;

export const CreateUploadRequestSchema = z.object({
  /** The file's name as the user's device knows it; sanitized by the server (kept for display only). */
  name: z.string().max(4096),
  /** Exact size in bytes; 0 is refused (FILE_EMPTY), over the server's limit FILE_TOO_LARGE (413). */
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  purpose: FilePurposeSchema.default('attachment'),
  /** The type the device declares. Recorded nowhere and decides nothing: the server sniffs the content. */
  contentType: z.string().max(255).optional(),
});
export type CreateUploadRequest = z.input<typeof CreateUploadRequestSchema>;

export const UploadSchema = z.object({
  id: Id,
  name: z.string(),
  size: z.number().int().positive(),
  purpose: FilePurposeSchema,
  /** Bytes the server holds; the next part to send is received / partSize + 1. */
  received: z.number().int().nonnegative(),
  /** Every part but the last is exactly this long. */
  partSize: z.number().int().positive(),
  status: z.enum(['uploading', 'processing', 'ready']),
  /** An upload not completed by then is removed. */
  expiresAt: Timestamp,
  createdAt: Timestamp,
});
export type Upload = z.infer<typeof UploadSchema>;

export const UploadResponseSchema = z.object({ upload: UploadSchema });
export type UploadResponse = z.infer<typeof UploadResponseSchema>;

export const UploadPartParamsSchema = z.object({ id: Id, part: z.coerce.number().int().min(1).max(10_000) });

export const CompleteUploadResponseSchema = z.object({ file: FileInfoSchema });
export type CompleteUploadResponse = z.infer<typeof CompleteUploadResponseSchema>;

/**
 * Signed download links (paths under the API's origin), bound to one file, one variant and the requesting
 * user, valid until `expiresAt`. `thumbnailUrl` is null when the file has no thumbnail.
 */
export const FileLinkSchema = z.object({
  fileId: Id,
  url: z.string(),
  /** The same with `Content-Disposition: attachment`, for a download button. */
  downloadUrl: z.string(),
  thumbnailUrl: z.string().nullable(),
  expiresAt: Timestamp,
});
export type FileLink = z.infer<typeof FileLinkSchema>;

export const FileResponseSchema = z.object({ file: FileInfoSchema, purpose: FilePurposeSchema, link: FileLinkSchema });
export type FileResponse = z.infer<typeof FileResponseSchema>;

export const FileLinksRequestSchema = z.object({ fileIds: z.array(Id).min(1).max(LIMITS.fileLinksMax) });
export type FileLinksRequest = z.infer<typeof FileLinksRequestSchema>;

/** Links for the files the caller may read; the others are left out (no error, nothing to probe). */
export const FileLinksResponseSchema = z.object({ links: z.array(FileLinkSchema) });
export type FileLinksResponse = z.infer<typeof FileLinksResponseSchema>;

export const FileContentQuerySchema = z.object({
  v: z.enum(['original', 'thumb']).default('original'),
  /** `1`: always `Content-Disposition: attachment`. */
  download: z.enum(['0', '1']).optional(),
  u: Id.optional(),
  exp: z.coerce.number().int().nonnegative().optional(),
  sig: z.string().max(128).optional(),
});
export type FileContentQuery = z.infer<typeof FileContentQuerySchema>;

export const SetAvatarRequestSchema = z.object({ fileId: Id });
export type SetAvatarRequest = z.infer<typeof SetAvatarRequestSchema>;
