import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ByteRange } from '../../platform/blobs/blob-store.js';
import { contentDisposition } from './files.names.js';
import { servedAs } from './files.types.js';
import type { FileContent } from './files.service.js';

/** User content may run nothing and load nothing, even if a browser were to render it as a document. */
export const FILE_CSP = "default-src 'none'; sandbox";

/**
 * A single `Range: bytes=…` request header: the inclusive range, 'unsatisfiable', or null to send the whole file
 * (no header, several ranges, or a syntax the server ignores as RFC 9110 allows).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/** The headers of a file response: safe type, inline only for displayable media, sandboxed, cacheable per user. */
export function setFileHeaders(reply: FastifyReply, content: FileContent, forceDownload: boolean, maxAgeSec: number): void {
  const served = servedAs(content.mime);
  const inline = served.inline && !forceDownload;
  reply.header('Content-Type', served.contentType);
  reply.header('Content-Disposition', contentDisposition(inline ? 'inline' : 'attachment', content.name));
  reply.header('Content-Security-Policy', FILE_CSP);
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Cross-Origin-Resource-Policy', 'same-origin');
  reply.header('Accept-Ranges', 'bytes');
  reply.header('ETag', `"${content.sha256}"`);
  // Private: the link is the user's; the browser may keep it as long as the link is valid.
  reply.header('Cache-Control', `private, max-age=${Math.max(0, maxAgeSec)}`);
}

/**
 * After refusing a request whose body was not read (an oversized or unexpected upload part), closes the
 * connection instead of letting Node read and discard the rest (BR-21: the bytes are never transferred).
 * The socket is ended once the answer is out and destroyed shortly after if the client keeps sending.
 */
export function refuseBody(request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.readableEnded) return;
  reply.header('Connection', 'close');
  reply.raw.once('finish', () => {
    const socket = request.raw.socket;
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}
