import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The web app's Content-Security-Policy: scripts only from this origin (no inline script, no eval), so text a
 * user typed can never run as script even if a rendering bug slipped through; no framing (clickjacking).
 */
const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    setSecurityHeaders(request.url, reply);
    return payload;
  });
}

/** The headers every response carries; also used for replies sent outside the hooks (framework errors). */
export function setSecurityHeaders(url: string, reply: FastifyReply): void {
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Referrer-Policy', 'no-referrer');
  reply.header('X-Frame-Options', 'DENY');
  reply.header('Cross-Origin-Opener-Policy', 'same-origin');
  // The API docs page brings its own policy (see openapi.ts: its UI's scripts and styles by hash); file
  // downloads bring a stricter one and their own caching (modules/files/files.http.ts).
  if (!url.startsWith('/api/docs') && !reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', APP_CSP);
  if (url.startsWith('/api/') && !reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
}
