import type { AuthResult, FileInfo, Upload } from '@kkchat/protocol';
import { KKChatClient, setClient } from '../sdk';

/** What the server does with one part: store it, answer with an error status, or wait until the test says. */
export type PartAnswer = 'ok' | 'fail' | Promise<'ok' | 'fail'>;

/**
 * The upload endpoints of the server in memory (create, parts, status, complete, cancel) behind a `fetch`, so the
 * web app's files store drives the real SDK upload code. `log` lists every request as "METHOD /path".
 */
export function createUploadServer(partSize: number) {
  const log: string[] = [];
  const uploads = new Map<string, Upload>();
  /** Answers for coming part PUTs, by part number; each is used once, then parts are stored. */
  const parts = new Map<number, PartAnswer[]>();
  let nextId = 1;

  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const error = (status: number, code: string) => json(status, { error: { code, message: code } });

  function aborted(signal: AbortSignal | null | undefined): Promise<never> {
    return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }

  const fetch: typeof globalThis.fetch = async (input, init) => {
    const method = init?.method ?? 'GET';
    const path = new URL(String(input)).pathname.replace(/^\/api\/v1/, '');
    log.push(`${method} ${path}`);
    if (method === 'POST' && path === '/auth/login') {
      const auth: AuthResult = {
        user: { id: 'me', username: 'me', displayName: 'Me', bio: '', avatar: '', createdAt: 1 },
        sessionId: 's1',
        accessToken: 'token',
        accessTokenExpiresAt: Date.now() + 3_600_000,
        refreshToken: 'refresh',
        refreshTokenExpiresAt: Date.now() + 86_400_000,
        role: 'user',
      };
      return json(200, auth);
    }
    if (method === 'POST' && path === '/uploads') {
      const body = JSON.parse(String(init?.body)) as { name: string; size: number };
      const upload: Upload = {
        id: `up${nextId++}`,
        name: body.name,
        size: body.size,
        purpose: 'attachment',
        received: 0,
        partSize,
        status: 'uploading',
        expiresAt: Date.now() + 86_400_000,
        createdAt: Date.now(),
      };
      uploads.set(upload.id, upload);
      return json(201, { upload });
    }
    const match = /^\/uploads\/([^/]+)(?:\/(parts|complete)(?:\/(\d+))?)?$/.exec(path);
    const upload = match ? uploads.get(match[1]!) : undefined;
    if (!match || !upload) return error(404, 'UPLOAD_NOT_FOUND');
    if (method === 'GET' && !match[2]) return json(200, { upload });
    if (method === 'DELETE' && !match[2]) {
      uploads.delete(upload.id);
      return new Response(null, { status: 204 });
    }
    if (method === 'PUT' && match[2] === 'parts') {
      const part = Number(match[3]);
      const answer = await Promise.race([parts.get(part)?.shift() ?? 'ok', aborted(init?.signal)]);
      if (answer === 'fail') return error(500, 'INTERNAL');
      if (part !== upload.received / partSize + 1) return error(409, 'UPLOAD_OFFSET_MISMATCH');
      upload.received += (init?.body as Blob).size;
      return json(200, { upload });
    }
    if (method === 'POST' && match[2] === 'complete' && upload.received === upload.size) {
      const file: FileInfo = { id: `file-${upload.id}`, name: upload.name, size: upload.size, mime: 'application/pdf', sha256: 'x', width: null, height: null, thumbnail: null };
      upload.status = 'ready';
      return json(200, { file });
    }
    return error(400, 'VALIDATION_FAILED');
  };

  /** Makes part `part` answer `answer` the next time it is sent. */
  function answerPart(part: number, answer: PartAnswer): void {
    parts.set(part, [...(parts.get(part) ?? []), answer]);
  }

  /** A part the server holds until `release` is called (an upload caught mid-way). */
  function holdPart(part: number): () => void {
    let release: () => void = () => undefined;
    answerPart(part, new Promise((resolve) => (release = () => resolve('ok'))));
    return () => release();
  }

  /** A real SDK client on this server, signed in and installed as the app's client. */
  async function signedInClient(): Promise<KKChatClient> {
    // Without XMLHttpRequest the SDK sends parts with the fetch it was given.
    const client = new KKChatClient({ baseUrl: 'http://kkchat.test', fetch, reconnect: { minDelayMs: 1, maxDelayMs: 5 } });
    await client.auth.login({ username: 'me', password: 'password123' });
    setClient(client);
    return client;
  }

  return { log, uploads, fetch, answerPart, holdPart, signedInClient };
}
