import { createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { LIMITS } from '@kkchat/protocol';
import type { BlobStore } from '../../platform/blobs/blob-store.js';
import { RASTER_IMAGES, SNIFF_BYTES, sniffType } from './files.types.js';

/** Images larger than this are stored as files without a thumbnail (decoding holds the image in memory). */
const IMAGE_MAX_BYTES = 40 * 1024 * 1024;
/** Refuses decompression bombs: a small file that decodes to a huge bitmap. */
const IMAGE_MAX_PIXELS = 100_000_000;

sharp.cache(false);
sharp.concurrency(1);

export interface ImageFacts {
  width: number;
  height: number;
  thumbnail: { buffer: Buffer; width: number; height: number } | null;
}

/** The type of a stored object, sniffed from its first bytes. */
export async function sniffStored(store: BlobStore, key: string, size: number): Promise<string> {
  const stream = await store.read(key, { start: 0, end: Math.min(size, SNIFF_BYTES) - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return sniffType(Buffer.concat(chunks));
}

/** sha-256 of a stored object, read once as a stream (when the upload's running hash is not at hand). */
export async function hashStored(store: BlobStore, key: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(await store.read(key), hashSink(hash));
  return hash.digest('hex');
}

function hashSink(hash: Hash): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done();
    },
  });
}

/**
 * Width, height (after EXIF orientation) and a WebP thumbnail of a raster image, reading the object once.
 * Null when it is not an image KKChat shows, too large to decode, or does not decode.
 */
export async function describeImage(store: BlobStore, key: string, mime: string, size: number): Promise<ImageFacts | null> {
  if (!RASTER_IMAGES.has(mime) || size > IMAGE_MAX_BYTES) return null;
  try {
    const image = sharp({ limitInputPixels: IMAGE_MAX_PIXELS, failOn: 'error', animated: false });
    const [metadata, thumbnail] = await Promise.all([
      image.metadata(),
      image
        .clone()
        .rotate()
        .resize(LIMITS.thumbnailMax, LIMITS.thumbnailMax, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 75 })
        .toBuffer({ resolveWithObject: true }),
      pipeline(await store.read(key), image),
    ]);
    if (!metadata.width || !metadata.height) return null;
    const turned = (metadata.orientation ?? 1) >= 5;
    return {
      width: turned ? metadata.height : metadata.width,
      height: turned ? metadata.width : metadata.height,
      thumbnail: { buffer: thumbnail.data, width: thumbnail.info.width, height: thumbnail.info.height },
    };
  } catch {
    return null;
  }
}
