import type { Platform } from '../../context.js';
import type { BlobStore } from '../../platform/blobs/blob-store.js';
import type { FileRepository } from './files.repository.js';
import { discardFile } from './uploads.service.js';

const BATCH = 100;

export interface CleanupReport {
  expiredUploads: number;
  unreferencedFiles: number;
  deleted: number;
  orphanUploads: number;
}

/**
 * The file sweep, a scheduled job of the worker role (app.ts `scheduledJobs`; in embedded mode the one process is
 * the worker). Running it on several workers at once is harmless. Each run:
 *  1. marks uploads past their expiry `deleting` (abandoned or failed uploads);
 *  2. marks ready files `deleting` that nothing has referred to for the grace period (never attached, replaced
 *     avatars, removed messages), re-checking the references in the same statement;
 *  3. deletes the objects of every `deleting` row, then the row (a crash or a store outage leaves the row, and
 *     the next run finishes it);
 *  4. aborts multipart uploads the store holds that no row records (a crash between creating and recording).
 */
export class FileCleanup {
  private running: Promise<CleanupReport> | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly repo: FileRepository,
    private readonly store: BlobStore,
  ) {}

  /** One sweep (runs are never concurrent within a process). */
  runOnce(): Promise<CleanupReport> {
    this.running ??= this.sweep().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async sweep(): Promise<CleanupReport> {
    const now = this.platform.now();
    const { files } = this.platform.config;
    const report: CleanupReport = { expiredUploads: 0, unreferencedFiles: 0, deleted: 0, orphanUploads: 0 };
    for (const { id } of await this.repo.expiredUploads(now, BATCH)) {
      if (await this.repo.markExpiredDeleting(id, now)) report.expiredUploads++;
    }
    const cutoff = now - files.unattachedTtlMs;
    for (const { id } of await this.repo.releasedBefore(cutoff, BATCH)) {
      if (await this.repo.markUnreferencedDeleting(id, cutoff, now)) report.unreferencedFiles++;
    }
    for (const row of await this.repo.deleting(BATCH)) {
      try {
        await discardFile(this.store, this.repo, row);
        report.deleted++;
      } catch (err) {
        this.platform.log.warn({ err, fileId: row.id }, 'could not delete a file yet; the next sweep retries');
      }
    }
    const stale = await this.store.listUploads(now - files.uploadExpiryMs);
    const known = await this.repo.knownMultipartIds(stale.map((u) => u.uploadId));
    for (const upload of stale) {
      if (known.has(upload.uploadId)) continue;
      await this.store.abortUpload(upload.key || 'f/orphan', upload.uploadId);
      report.orphanUploads++;
    }
    if (report.deleted + report.orphanUploads > 0) this.platform.log.info(report, 'file cleanup');
    return report;
  }
}
