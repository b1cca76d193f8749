import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { AttachmentKind, FileInfo, FileLink } from '@kkchat/protocol';
import { getClient } from '../sdk';

/** A link is renewed this long before it expires (a video may keep playing from it for a while). */
const RENEW_BEFORE_MS = 90_000;
/** A file whose links request failed is not asked for again for this long. */
const RETRY_AFTER_MS = 30_000;

/** A file being uploaded from this page, shown above the composer with its progress. */
export interface UploadJob {
  id: number;
  conversationId: string;
  name: string;
  size: number;
  sent: number;
  state: 'uploading' | 'failed';
  error?: unknown;
  /** Set by the server once the upload exists; a failed job resumes from where the server is. */
  uploadId?: string;
  /** The kind chosen for the message (voice clips are audio whatever their container). */
  kind: AttachmentKind | null;
  durationMs?: number;
  body: Blob;
  controller: AbortController;
}

/** Settles when a job has been sent (or has given up), so later picks of the same chat go out after it. */
const settled = new Map<number, Promise<void>>();

/** The message kind for an uploaded file, from what the server detected. */
export function kindFor(file: FileInfo): AttachmentKind {
  if (file.thumbnail && file.mime.startsWith('image/')) return 'image';
  if (file.mime.startsWith('audio/')) return 'audio';
  if (file.mime.startsWith('video/')) return 'video';
  return 'file';
}

/**
 * Files in the web app: signed download links (fetched in batches, cached until shortly before they expire)
 * and uploads from the composer (progress, cancel, resume after a dropped connection), each sent as a message
 * through the SDK's outbox once stored.
 */
export const useFilesStore = defineStore('files', () => {
  const links = ref<Record<string, FileLink>>({});
  const uploads = ref<UploadJob[]>([]);
  const wanted = new Set<string>();
  const failedAt = new Map<string, number>();
  const inflight = new Set<string>();
  let flushing = false;
  let nextJobId = 1;

  /** The file's links, or undefined while they are being fetched (the caller re-renders when they arrive). */
  function link(fileId: string): FileLink | undefined {
    const known = links.value[fileId];
    if (!known || known.expiresAt - Date.now() < RENEW_BEFORE_MS) want(fileId);
    return known;
  }

  function want(fileId: string): void {
    if (!fileId || inflight.has(fileId) || Date.now() - (failedAt.get(fileId) ?? 0) < RETRY_AFTER_MS) return;
    wanted.add(fileId);
    if (!flushing) {
      flushing = true;
      queueMicrotask(() => void flush());
    }
  }

  async function flush(): Promise<void> {
    flushing = false;
    const ids = [...wanted].slice(0, 100);
    for (const id of ids) {
      wanted.delete(id);
      inflight.add(id);
    }
    if (wanted.size > 0) want([...wanted][0]!);
    try {
      const got = await getClient().files.links(ids);
      const next = { ...links.value };
      for (const item of got) next[item.fileId] = item;
      links.value = next;
      for (const id of ids) if (!got.some((l) => l.fileId === id)) failedAt.set(id, Date.now());
    } catch {
      for (const id of ids) failedAt.set(id, Date.now());
    } finally {
      for (const id of ids) inflight.delete(id);
    }
  }

  /** Uploads each file and sends it to the conversation as an image, file, audio or video message. */
  function sendFiles(conversationId: string, files: readonly File[]): void {
    for (const file of files) start({ conversationId, body: file, name: file.name || 'file', kind: null });
  }

  /** A voice clip recorded in the browser. */
  function sendVoice(conversationId: string, body: Blob, durationMs: number): void {
    const extension = body.type.includes('ogg') ? 'ogg' : body.type.includes('mp4') ? 'm4a' : 'webm';
    start({ conversationId, body, name: `voice-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${extension}`, kind: 'audio', durationMs });
  }

  function start(input: { conversationId: string; body: Blob; name: string; kind: AttachmentKind | null; durationMs?: number }): void {
    const job: UploadJob = { id: nextJobId++, ...input, size: input.body.size, sent: 0, state: 'uploading', controller: new AbortController() };
    // Uploads run side by side, but messages go out in the order the files were picked.
    const earlier = uploads.value.filter((j) => j.conversationId === job.conversationId).map((j) => settled.get(j.id) ?? Promise.resolve());
    uploads.value = [...uploads.value, job];
    settled.set(job.id, run(job.id, Promise.all(earlier).then(() => undefined)));
  }

  function patch(id: number, changes: Partial<UploadJob>): UploadJob | undefined {
    let found: UploadJob | undefined;
    uploads.value = uploads.value.map((job) => (job.id === id ? (found = { ...job, ...changes }) : job));
    return found;
  }

  async function run(id: number, before: Promise<void> = Promise.resolve()): Promise<void> {
    const job = uploads.value.find((j) => j.id === id);
    if (!job) return;
    const client = getClient();
    const options = {
      name: job.name,
      signal: job.controller.signal,
      // A phone going through a tunnel: keep trying for a while before showing the retry button.
      maxAttempts: 20,
      onProgress: (sent: number) => patch(id, { sent }),
      onCreated: (upload: { id: string }) => patch(id, { uploadId: upload.id }),
    };
    try {
      const file = job.uploadId ? await client.files.resume(job.uploadId, job.body, options) : await client.files.upload(job.body, options);
      await before;
      uploads.value = uploads.value.filter((j) => j.id !== id);
      settled.delete(id);
      client.sendFile(job.conversationId, job.kind ?? kindFor(file), file, job.durationMs !== undefined ? { durationMs: job.durationMs } : {});
    } catch (error) {
      settled.delete(id);
      if (job.controller.signal.aborted) return;
      patch(id, { state: 'failed', error });
    }
  }

  /** Tries a failed upload again, from where the server has it. */
  function retry(id: number): void {
    if (patch(id, { state: 'uploading', error: undefined, controller: new AbortController() })) settled.set(id, run(id));
  }

  /** Stops an upload; the SDK then removes it on the server (a failed one is removed here). */
  function cancel(id: number): void {
    const job = uploads.value.find((j) => j.id === id);
    if (!job) return;
    job.controller.abort();
    settled.delete(id);
    if (job.state === 'failed' && job.uploadId) void getClient().files.cancel(job.uploadId).catch(() => undefined);
    uploads.value = uploads.value.filter((j) => j.id !== id);
  }

  /** Uploads a cropped avatar image; returns the stored file (set it as a user's or group's avatar). */
  async function uploadAvatar(body: Blob): Promise<FileInfo> {
    return getClient().files.upload(body, { name: 'avatar.png', purpose: 'avatar' });
  }

  function reset(): void {
    for (const job of uploads.value) job.controller.abort();
    uploads.value = [];
    links.value = {};
    wanted.clear();
    failedAt.clear();
  }

  return { links, uploads, link, sendFiles, sendVoice, retry, cancel, uploadAvatar, reset };
});
