import {
  CompleteUploadResponseSchema,
  FileLinksResponseSchema,
  FileResponseSchema,
  UploadResponseSchema,
  UserResponseSchema,
  type FileInfo,
  type FileLink,
  type FilePurpose,
  type FileResponse,
  type Upload,
  type UserPublic,
} from '@kkchat/protocol';
import { ApiError } from './errors.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { errorFromResponse, type HttpClient } from './http.js';

/** A file's bytes: a browser Blob/File, or bytes in memory (Node). */
export type FileBody = Blob | Uint8Array;

export interface UploadOptions {
  /** The name shown to others (a File's own name by default). */
  name?: string;
  purpose?: FilePurpose;
  /** Bytes sent so far of the whole file, after every chunk of progress. */
  onProgress?: (sent: number, total: number) => void;
  /** Aborting cancels the upload on the server too. */
  signal?: AbortSignal;
  /** Called once the server has created the upload (its id survives a dropped connection). */
  onCreated?: (upload: Upload) => void;
  /** Consecutive failed attempts at one part before giving up (default 8; a dropped connection is one). */
  maxAttempts?: number;
}

export interface FilesApi {
  /**
   * Uploads a file: creates the upload, sends its parts in order, and after a dropped connection asks the server
   * how much it has and continues from there (with backoff), then completes it. Resolves with the stored file.
   */
  upload(body: FileBody, options?: UploadOptions): Promise<FileInfo>;
  /** Continues an upload whose id is known (e.g. kept across a page reload with the same bytes). */
  resume(uploadId: string, body: FileBody, options?: UploadOptions): Promise<FileInfo>;
  cancel(uploadId: string): Promise<void>;
  get(fileId: string): Promise<FileResponse>;
  /** Signed links for files the user may read (others are left out); absolute URLs. */
  links(fileIds: string[]): Promise<FileLink[]>;
  setAvatar(fileId: string): Promise<UserPublic>;
  clearAvatar(): Promise<UserPublic>;
}

/** How one part travels: XMLHttpRequest in browsers (it reports upload progress), fetch elsewhere. */
export type PartSender = (request: {
  url: string;
  token: string;
  body: Blob | Uint8Array;
  signal?: AbortSignal;
  onProgress?: (loaded: number) => void;
}) => Promise<{ status: number; text: string; retryAfter: string | null }>;

export function createFilesApi(http: HttpClient, hooks: { onUser(user: UserPublic): void; backoff?: BackoffOptions; sendPart?: PartSender }): FilesApi {
  const sendPart = hooks.sendPart ?? defaultPartSender(http);
  const absolute = (link: FileLink): FileLink => ({
    ...link,
    url: http.absoluteUrl(link.url),
    downloadUrl: http.absoluteUrl(link.downloadUrl),
    thumbnailUrl: link.thumbnailUrl === null ? null : http.absoluteUrl(link.thumbnailUrl),
  });

  async function run(upload: Upload, body: FileBody, options: UploadOptions): Promise<FileInfo> {
    const total = upload.size;
    let received = upload.received;
    let failures = 0;
    const maxAttempts = options.maxAttempts ?? 8;
    while (received < total) {
      options.signal?.throwIfAborted();
      const part = received / upload.partSize + 1;
      const end = Math.min(total, received + upload.partSize);
      const base = received;
      try {
        const reply = await sendPart({
          url: http.absoluteUrl(`/api/v1/uploads/${encodeURIComponent(upload.id)}/parts/${part}`),
          token: await http.freshAccessToken(),
          body: body.slice(base, end),
          signal: options.signal,
          onProgress: (loaded) => options.onProgress?.(base + loaded, total),
        });
        if (reply.status === 200) {
          received = (JSON.parse(reply.text) as { upload: Upload }).upload.received;
          failures = 0;
          options.onProgress?.(received, total);
          continue;
        }
        const error = errorFromResponse(new Response(null, { status: reply.status, headers: reply.retryAfter ? { 'retry-after': reply.retryAfter } : {} }), safeJson(reply.text));
        // The server moved on or the part must wait: ask it where it is and continue from there.
        if (error.code !== 'UPLOAD_OFFSET_MISMATCH' && error.code !== 'UPLOAD_BUSY' && error.code !== 'TOKEN_EXPIRED') throw error;
        if (error.retryAfterMs) await sleep(error.retryAfterMs, options.signal);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        if (err instanceof ApiError && err.status !== 0 && err.code !== 'UPLOAD_BUSY') throw err;
        if (++failures >= maxAttempts) throw err;
        await sleep(backoffDelay(failures, hooks.backoff), options.signal);
      }
      received = (await status(upload.id)).received;
    }
    return (await http.request('POST', `/uploads/${encodeURIComponent(upload.id)}/complete`, { body: {}, schema: CompleteUploadResponseSchema })).file;
  }

  const status = async (id: string) => (await http.request('GET', `/uploads/${encodeURIComponent(id)}`, { schema: UploadResponseSchema })).upload;

  /** Runs the upload; when it is aborted, it is cancelled on the server before the promise rejects. */
  const guarded = async (upload: Upload, body: FileBody, options: UploadOptions) => {
    try {
      return await run(upload, body, options);
    } catch (err) {
      if (options.signal?.aborted) await api.cancel(upload.id).catch(() => undefined);
      throw err;
    }
  };

  const api: FilesApi = {
    async upload(body, options = {}) {
      const name = options.name ?? (typeof File !== 'undefined' && body instanceof File ? body.name : 'file');
      const size = body instanceof Uint8Array ? body.byteLength : body.size;
      const contentType = body instanceof Uint8Array ? undefined : body.type || undefined;
      const { upload } = await http.request('POST', '/uploads', {
        body: { name, size, purpose: options.purpose ?? 'attachment', ...(contentType ? { contentType } : {}) },
        schema: UploadResponseSchema,
      });
      options.onCreated?.(upload);
      return guarded(upload, body, options);
    },
    async resume(uploadId, body, options = {}) {
      return guarded(await status(uploadId), body, options);
    },
    async cancel(uploadId) {
      await http.request('DELETE', `/uploads/${encodeURIComponent(uploadId)}`);
    },
    async get(fileId) {
      const response = await http.request('GET', `/files/${encodeURIComponent(fileId)}`, { schema: FileResponseSchema });
      return { ...response, link: absolute(response.link) };
    },
    async links(fileIds) {
      if (fileIds.length === 0) return [];
      const { links } = await http.request('POST', '/files/links', { body: { fileIds }, schema: FileLinksResponseSchema });
      return links.map(absolute);
    },
    async setAvatar(fileId) {
      const { user } = await http.request('PUT', '/users/me/avatar', { body: { fileId }, schema: UserResponseSchema });
      hooks.onUser(user);
      return user;
    },
    async clearAvatar() {
      const { user } = await http.request('DELETE', '/users/me/avatar', { schema: UserResponseSchema });
      hooks.onUser(user);
      return user;
    },
  };
  return api;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

/** XMLHttpRequest where it exists (upload progress events), else fetch (Node, workers). */
function defaultPartSender(http: HttpClient): PartSender {
  if (typeof XMLHttpRequest !== 'undefined') {
    return ({ url, token, body, signal, onProgress }) =>
      new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('PUT', url);
        xhr.setRequestHeader('authorization', `Bearer ${token}`);
        xhr.setRequestHeader('content-type', 'application/octet-stream');
        xhr.upload.onprogress = (event) => onProgress?.(event.loaded);
        xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, retryAfter: xhr.getResponseHeader('retry-after') });
        xhr.onerror = () => reject(ApiError.client('NETWORK_ERROR', 'The upload connection failed.'));
        xhr.onabort = () => reject(signal?.reason ?? ApiError.client('DISCARDED', 'The upload was cancelled.'));
        signal?.addEventListener('abort', () => xhr.abort(), { once: true });
        xhr.send(body as XMLHttpRequestBodyInit);
      });
  }
  return async ({ url, token, body, signal }) => {
    try {
      const response = await http.rawFetch(url, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: body as BodyInit,
        signal,
      });
      return { status: response.status, text: await response.text(), retryAfter: response.headers.get('retry-after') };
    } catch (err) {
      if (signal?.aborted) throw err;
      throw ApiError.client('NETWORK_ERROR', `upload part: ${(err as Error)?.message ?? 'network error'}`, err);
    }
  };
}
