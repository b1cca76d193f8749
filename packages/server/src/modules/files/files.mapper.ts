import type { FileInfo, FilePurpose, Upload } from '@kkchat/protocol';
import type { FileRow } from './files.repository.js';

export function toFileInfo(row: FileRow): FileInfo {
  return {
    id: row.id,
    name: row.name,
    size: Number(row.size),
    mime: row.mime,
    sha256: row.sha256 ?? '',
    width: row.width === null ? null : Number(row.width),
    height: row.height === null ? null : Number(row.height),
    thumbnail: row.thumb_width === null || row.thumb_height === null ? null : { width: Number(row.thumb_width), height: Number(row.thumb_height) },
  };
}

export function toUpload(row: FileRow): Upload {
  return {
    id: row.id,
    name: row.name,
    size: Number(row.size),
    purpose: row.purpose as FilePurpose,
    received: Number(row.received),
    partSize: Number(row.part_size),
    status: row.status === 'ready' ? 'ready' : row.status === 'processing' ? 'processing' : 'uploading',
    expiresAt: Number(row.expires_at ?? row.completed_at ?? row.created_at),
    createdAt: Number(row.created_at),
  };
}

/** Keys in the blob store: generated from the file id, never from anything a client sent. */
export function thumbKey(storageKey: string): string {
  return `${storageKey}.thumb`;
}
