import { createHmac, timingSafeEqual } from 'node:crypto';

export type FileVariant = 'original' | 'thumb';

/** Links expire on a minute boundary, so the same link is handed out for a while and the browser cache hits. */
const EXPIRY_GRANULARITY_MS = 60_000;

/**
 * Signed download links: `/api/v1/files/<id>/content?v=<variant>&u=<user>&exp=<ms>&sig=<HMAC-SHA256>`, bound to
 * one file, one variant and one user, valid until `exp`. The key is derived from the JWT secret, which every node
 * of a cluster shares. A link is what lets `<img>` and `<video>` load a file without an Authorization header.
 */
export class FileLinkSigner {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly ttlMs: number,
  ) {
    this.key = createHmac('sha256', secret).update('kkchat file links v1').digest();
  }

  /** The expiry a link made now gets. */
  expiryFrom(now: number): number {
    return Math.ceil((now + this.ttlMs) / EXPIRY_GRANULARITY_MS) * EXPIRY_GRANULARITY_MS;
  }

  link(fileId: string, variant: FileVariant, userId: string, expiresAt: number, download = false): string {
    const query = new URLSearchParams({ v: variant, u: userId, exp: String(expiresAt), sig: this.sign(fileId, variant, userId, expiresAt) });
    if (download) query.set('download', '1');
    return `/api/v1/files/${encodeURIComponent(fileId)}/content?${query.toString()}`;
  }

  /** 'ok', 'invalid' (forged or altered: any field changed breaks the signature) or 'expired'. */
  verify(fileId: string, variant: FileVariant, userId: string, expiresAt: number, signature: string, now: number): 'ok' | 'invalid' | 'expired' {
    const expected = Buffer.from(this.sign(fileId, variant, userId, expiresAt));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return now > expiresAt ? 'expired' : 'ok';
  }

  private sign(fileId: string, variant: FileVariant, userId: string, expiresAt: number): string {
    return createHmac('sha256', this.key).update(`${fileId}\n${variant}\n${userId}\n${expiresAt}`).digest('base64url');
  }
}
