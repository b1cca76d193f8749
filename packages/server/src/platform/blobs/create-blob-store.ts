import { join } from 'node:path';
import type { Config } from '../../config.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

/** The blob store the configuration names (KKCHAT_BLOB_STORE), initialised. */
export async function createBlobStore(config: Config): Promise<BlobStore> {
  const store = config.files.store === 's3' ? new S3BlobStore(config.files.s3) : new LocalBlobStore(join(config.dataDir, 'blobs'));
  await store.init();
  return store;
}
