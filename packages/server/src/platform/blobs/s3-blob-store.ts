import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ListMultipartUploadsCommandOutput,
} from '@aws-sdk/client-s3';
import { BlobNotFoundError, BlobUploadError, checkKey, type BlobPart, type BlobStore, type ByteRange, type PendingBlobUpload } from './blob-store.js';

export interface S3BlobStoreOptions {
  /** Empty for AWS itself; e.g. http://127.0.0.1:9000 for MinIO or S3Proxy. */
  endpoint: string;
  bucket: string;
  region: string;
  /** Both empty: the SDK's default credential chain (environment, instance role, …). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted servers need. */
  forcePathStyle: boolean;
}

/**
 * Blobs in an S3-compatible object store (AWS S3, MinIO, S3Proxy, …) through the AWS SDK v3, using the
 * multipart API directly (each upload part is one S3 part), so an upload can resume on any node: the upload id
 * and the parts' ETags are kept in the database, not in this process. Parts other than the last must be at
 * least 5 MiB (S3's rule; KKCHAT_UPLOAD_PART_BYTES enforces it).
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3BlobStoreOptions) {
    // The pinned SDK warns at start that its *future* releases need Node 22; the release used here supports 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.bucket = options.bucket;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      ...(options.accessKeyId ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
      // Checksums only where S3 requires them: the default "when supported" sends streamed bodies as
      // aws-chunked with trailing checksums, which several S3-compatible servers do not accept.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
      // A development or test server starts empty; on AWS the bucket normally exists already.
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async createUpload(key: string): Promise<string> {
    const out = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: checkKey(key) }));
    if (!out.UploadId) throw new Error('S3 returned no upload id');
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Readable, length: number): Promise<string> {
    // The SDK pipes the body into its request and would wait forever for the rest of a body that failed
    // (a client that dropped half-way), so the request is aborted when the body errors.
    const abort = new AbortController();
    const onError = (error: Error) => abort.abort(error);
    body.once('error', onError);
    try {
      const out = await this.client.send(
        new UploadPartCommand({ Bucket: this.bucket, Key: checkKey(key), UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: length }),
        { abortSignal: abort.signal },
      );
      if (!out.ETag) throw new Error('S3 returned no ETag');
      return out.ETag.replace(/"/g, '');
    } catch (error) {
      if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
      if (errorName(error) === 'NoSuchUpload') throw new BlobNotFoundError(`upload ${uploadId}`);
      throw error;
    } finally {
      body.off('error', onError);
    }
  }

  async completeUpload(key: string, uploadId: string, parts: BlobPart[]): Promise<void> {
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: checkKey(key),
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })) },
        }),
      );
    } catch (error) {
      const name = errorName(error);
      if (name === 'NoSuchUpload') throw new BlobNotFoundError(`upload ${uploadId}`);
      if (name === 'InvalidPart' || name === 'EntityTooSmall' || name === 'InvalidPartOrder') throw new BlobUploadError(name, { cause: error });
      throw error;
    }
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: checkKey(key), UploadId: uploadId }));
    } catch (error) {
      if (errorName(error) !== 'NoSuchUpload' && httpStatus(error) !== 404) throw error;
    }
  }

  async listUploads(before: number): Promise<PendingBlobUpload[]> {
    const found: PendingBlobUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let page: ListMultipartUploadsCommandOutput;
      try {
        page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      } catch (error) {
        // Some S3-compatible servers do not list uploads; the database-driven sweep still covers recorded ones.
        if (errorName(error) === 'NotImplemented' || httpStatus(error) === 501) return found;
        throw error;
      }
      for (const upload of page.Uploads ?? []) {
        const initiatedAt = upload.Initiated?.getTime() ?? 0;
        if (upload.Key && upload.UploadId && initiatedAt < before) found.push({ key: upload.Key, uploadId: upload.UploadId, initiatedAt });
      }
      if (!page.IsTruncated) return found;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: checkKey(key), Body: body, ContentType: contentType, ContentLength: body.length }));
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: checkKey(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
      );
      return out.Body as Readable;
    } catch (error) {
      if (errorName(error) === 'NoSuchKey' || httpStatus(error) === 404) throw new BlobNotFoundError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }));
      return { size: Number(out.ContentLength ?? 0) };
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

function httpStatus(error: unknown): number {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode ?? 0;
}
