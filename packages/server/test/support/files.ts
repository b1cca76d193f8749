import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import sharp from 'sharp';
import type { AuthResult, FileInfo, FileLink, Upload } from '@kkchat/protocol';
import { api } from './raw-client.js';

/** A PNG of the given size (sharp draws it), for image uploads. */
export function pngBytes(width = 64, height = 48, color = { r: 200, g: 30, b: 90 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } }).png().toBuffer();
}

/** The smallest valid Windows executable header ("MZ" … "PE\0\0"), enough for content sniffing. */
export function peExecutable(): Buffer {
  const bytes = Buffer.alloc(1024);
  bytes.write('MZ', 0, 'latin1');
  bytes.writeUInt32LE(0x80, 0x3c);
  bytes.write('PE\0\0', 0x80, 'latin1');
  bytes.writeUInt16LE(0x14c, 0x84);
  return bytes;
}

/** The EBML header of a WebM file (what MediaRecorder writes first), followed by `payload` bytes. */
export function webmBytes(payload: Buffer): Buffer {
  const header = Buffer.from('1a45dfa39f4286810142f7810142f2810442f381084282847765626d4287810442858102', 'hex');
  return Buffer.concat([header, payload]);
}

export async function createUpload(baseUrl: string, user: AuthResult, body: Record<string, unknown>) {
  return api<{ upload: Upload }>(baseUrl, 'POST', '/uploads', { token: user.accessToken, body });
}

/** PUT one part with fetch (Content-Length from the buffer). */
export async function putPart(baseUrl: string, user: AuthResult, uploadId: string, part: number, bytes: Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/api/v1/uploads/${uploadId}/parts/${part}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/octet-stream', ...headers },
    body: new Uint8Array(bytes),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as { upload: Upload } & { error?: { code: string } }, headers: response.headers };
}

/**
 * putPart, retried while the server answers UPLOAD_BUSY: right after a dropped request the server may not yet
 * have released that request's lease (it does so once it sees the connection gone).
 */
export async function putPartWhenFree(baseUrl: string, user: AuthResult, uploadId: string, part: number, bytes: Buffer) {
  for (let attempt = 0; ; attempt++) {
    const result = await putPart(baseUrl, user, uploadId, part, bytes);
    if (result.status !== 409 || result.body.error?.code !== 'UPLOAD_BUSY' || attempt >= 100) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function completeUpload(baseUrl: string, user: AuthResult, uploadId: string) {
  return api<{ file: FileInfo }>(baseUrl, 'POST', `/uploads/${uploadId}/complete`, { token: user.accessToken, body: {} });
}

/** The whole upload flow; returns the stored file (throws with the server's answer on any refusal). */
export async function uploadFile(
  baseUrl: string,
  user: AuthResult,
  bytes: Buffer,
  name = 'file.bin',
  options: { purpose?: 'attachment' | 'avatar'; contentType?: string } = {},
): Promise<FileInfo> {
  const created = await createUpload(baseUrl, user, { name, size: bytes.length, ...options });
  if (created.status !== 201) throw new Error(`create upload: ${created.status} ${JSON.stringify(created.body)}`);
  const { id, partSize } = created.body.upload;
  for (let offset = 0, part = 1; offset < bytes.length; offset += partSize, part++) {
    const sent = await putPart(baseUrl, user, id, part, bytes.subarray(offset, offset + partSize));
    if (sent.status !== 200) throw new Error(`part ${part}: ${sent.status} ${JSON.stringify(sent.body)}`);
  }
  const done = await completeUpload(baseUrl, user, id);
  if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.body)}`);
  return done.body.file;
}

export async function fileLinks(baseUrl: string, user: AuthResult, fileIds: string[]) {
  return api<{ links: FileLink[] }>(baseUrl, 'POST', '/files/links', { token: user.accessToken, body: { fileIds } });
}

/** GET a (relative) link as a browser would: no Authorization header. */
export async function download(baseUrl: string, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}${path}`, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, body, headers: response.headers };
}

/**
 * Sends a request head (and at most `send` bytes of body) over a raw socket, then reads what the server answers
 * and whether it closed the connection: for bodies that lie about their length and refused oversized parts.
 */
export function rawRequest(
  baseUrl: string,
  head: string,
  body: Buffer | null,
  timeoutMs = 10_000,
): Promise<{ response: string; closed: boolean; bytesWritten: number }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let response = '';
    let bytesWritten = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response, closed: false, bytesWritten });
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(head);
      if (body) {
        // Written in pieces; a server that closes stops us early (write errors are expected then).
        const piece = 64 * 1024;
        let offset = 0;
        const pump = () => {
          while (offset < body.length && !socket.destroyed) {
            const ok = socket.write(body.subarray(offset, offset + piece), () => undefined);
            offset += piece;
            bytesWritten = Math.min(offset, body.length);
            if (!ok) return void socket.once('drain', pump);
          }
        };
        pump();
      }
    });
    socket.on('data', (chunk) => (response += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, closed: true, bytesWritten });
    });
    socket.on('timeout', () => reject(new Error('socket timeout')));
  });
}

/** Sends `sent` bytes of a part whose Content-Length promises `length`, then drops the connection. */
export function abortedPart(baseUrl: string, user: AuthResult, uploadId: string, part: number, length: number, sent: Buffer): Promise<void> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: 'PUT',
      path: `/api/v1/uploads/${uploadId}/parts/${part}`,
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/octet-stream', 'content-length': String(length) },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(sent, () => setTimeout(() => req.destroy(), 50));
  });
}
