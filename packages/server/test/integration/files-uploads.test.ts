import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortedPart, completeUpload, createUpload, download, fileLinks, peExecutable, pngBytes, putPart, putPartWhenFree, rawRequest, uploadFile } from '../support/files.js';
import { api, expectError, registerUser, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

const PART = 64 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('uploads: the resumable flow and every bad input of issue 4', () => {
  let server: TestServer;
  let alice: User;
  let bob: User;

  beforeAll(async () => {
    server = await startServer({ KKCHAT_UPLOAD_MAX_BYTES: String(1024 * 1024) });
    // Small parts keep the tests quick (the variable's own minimum is S3's 5 MiB).
    server.config.files.partBytes = PART;
    alice = await registerUser(server.url, 'up');
    bob = await registerUser(server.url, 'up');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('uploads in parts, records size, sha-256 and the sniffed type, and serves the same bytes back', async () => {
    const bytes = randomBytes(3 * PART + 1234);
    const file = await uploadFile(server.url, alice, bytes, 'data.bin');
    expect(file).toMatchObject({ name: 'data.bin', size: bytes.length, sha256: sha256(bytes), mime: 'application/octet-stream', thumbnail: null });
    const { body } = await fileLinks(server.url, alice, [file.id]);
    const got = await download(server.url, body.links[0]!.url);
    expect(got.status).toBe(200);
    expect(got.body.equals(bytes)).toBe(true);
  });

  it('an image gets its width, height and a thumbnail', async () => {
    const file = await uploadFile(server.url, alice, await pngBytes(640, 480), 'photo.png');
    expect(file).toMatchObject({ mime: 'image/png', width: 640, height: 480, thumbnail: { width: 320, height: 240 } });
    const { body } = await fileLinks(server.url, alice, [file.id]);
    const thumb = await download(server.url, body.links[0]!.thumbnailUrl!);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
  });

  it('zero bytes: refused at once with FILE_EMPTY, nothing is created (BR-22)', async () => {
    expectError(await createUpload(server.url, alice, { name: 'empty.txt', size: 0 }), 400, 'FILE_EMPTY');
    expect(readdirSync(join(server.config.dataDir, 'blobs', 'uploads'))).toEqual(expect.not.arrayContaining([expect.stringMatching(/./)]));
  });

  it('oversized: 413 FILE_TOO_LARGE at creation, before any byte of the file is sent (BR-21)', async () => {
    expectError(await createUpload(server.url, alice, { name: 'big.bin', size: 1024 * 1024 + 1 }), 413, 'FILE_TOO_LARGE');
    const exactly = await createUpload(server.url, alice, { name: 'limit.bin', size: 1024 * 1024 });
    expect(exactly.status).toBe(201);
  });

  it('a part whose Content-Length is over its size gets 413 from the headers alone, and the connection closes', async () => {
    const { body } = await createUpload(server.url, alice, { name: 'x.bin', size: 2 * PART });
    const head =
      `PUT /api/v1/uploads/${body.upload.id}/parts/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n`;
    const reply = await rawRequest(server.url, head, null);
    expect(reply.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply.response).toContain('FILE_TOO_LARGE');
    expect(reply.response.toLowerCase()).toContain('connection: close');
    expect(reply.closed).toBe(true);
    expect((await api(server.url, 'GET', `/uploads/${body.upload.id}`, { token: alice.accessToken })).body).toMatchObject({ upload: { received: 0 } });
  });

  it('a body longer than its Content-Length is cut at the declared length; the rest is never taken as data', async () => {
    const { body } = await createUpload(server.url, alice, { name: 'lying.bin', size: PART });
    const real = randomBytes(PART);
    const head =
      `PUT /api/v1/uploads/${body.upload.id}/parts/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${PART}\r\n\r\n`;
    const reply = await rawRequest(server.url, head, Buffer.concat([real, randomBytes(4 * 1024 * 1024)]));
    // What follows the declared length is not HTTP: the parser refuses it and the connection closes, whether or not
    // the part's own answer got out first. The part is either stored whole or not at all, never with extra bytes.
    expect(reply.closed).toBe(true);
    expect(reply.response).toMatch(/^HTTP\/1\.1 (200|400) /);
    const status = (await api<{ upload: { received: number } }>(server.url, 'GET', `/uploads/${body.upload.id}`, { token: alice.accessToken })).body.upload;
    expect([0, PART]).toContain(status.received);
    if (status.received === 0) expect((await putPartWhenFree(server.url, alice, body.upload.id, 1, real)).status).toBe(200);
    const file = (await completeUpload(server.url, alice, body.upload.id)).body.file;
    expect(file.size).toBe(PART);
    expect(file.sha256).toBe(sha256(real));
  });

  it('a part of the wrong size, a missing Content-Length, or the wrong part number is refused before reading', async () => {
    const { body } = await createUpload(server.url, alice, { name: 'p.bin', size: 2 * PART });
    const id = body.upload.id;
    expectError(await putPart(server.url, alice, id, 1, randomBytes(PART - 1)), 400, 'UPLOAD_PART_INVALID');
    expectError(await putPart(server.url, alice, id, 2, randomBytes(PART)), 409, 'UPLOAD_OFFSET_MISMATCH');
    const chunked = await fetch(`${server.url}/api/v1/uploads/${id}/parts/1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/octet-stream' },
      body: new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(10)), c.close()) }),
      duplex: 'half',
    } as RequestInit);
    expectError({ status: chunked.status, body: await chunked.json() }, 411, 'LENGTH_REQUIRED');
    expectError(await completeUpload(server.url, alice, id), 409, 'UPLOAD_INCOMPLETE');
  });

  it('an upload aborted half-way resumes: the server reports what it has and the client sends the rest', async () => {
    const bytes = randomBytes(3 * PART);
    const { body } = await createUpload(server.url, alice, { name: 'resume.bin', size: bytes.length });
    const id = body.upload.id;
    expect((await putPart(server.url, alice, id, 1, bytes.subarray(0, PART))).status).toBe(200);
    // Part 2 drops after a third of its bytes: nothing of it counts.
    await abortedPart(server.url, alice, id, 2, PART, bytes.subarray(PART, PART + PART / 3));
    let status = (await api<{ upload: { received: number } }>(server.url, 'GET', `/uploads/${id}`, { token: alice.accessToken })).body.upload;
    for (let i = 0; i < 50 && status.received !== PART; i++) {
      status = (await api<{ upload: { received: number } }>(server.url, 'GET', `/uploads/${id}`, { token: alice.accessToken })).body.upload;
    }
    expect(status.received).toBe(PART);
    // The aborted request's lease is released once the server sees the drop; the resume may have to wait a moment.
    expect((await putPartWhenFree(server.url, alice, id, 2, bytes.subarray(PART, 2 * PART))).status).toBe(200);
    expect((await putPart(server.url, alice, id, 3, bytes.subarray(2 * PART))).status).toBe(200);
    const file = (await completeUpload(server.url, alice, id)).body.file;
    expect(file.sha256).toBe(sha256(bytes));
    // Completing again is idempotent.
    expect((await completeUpload(server.url, alice, id)).body.file).toEqual(file);
  });

  it('a declared type that lies decides nothing: an executable declared image/png is refused, a PNG declared PDF is a PNG (BR-23)', async () => {
    const exe = peExecutable();
    const created = await createUpload(server.url, alice, { name: 'tool.png', size: exe.length, contentType: 'image/png' });
    expect((await putPart(server.url, alice, created.body.upload.id, 1, exe)).status).toBe(200);
    expectError(await completeUpload(server.url, alice, created.body.upload.id), 415, 'FILE_TYPE_BLOCKED');
    expectError(await api(server.url, 'GET', `/uploads/${created.body.upload.id}`, { token: alice.accessToken }), 404, 'UPLOAD_NOT_FOUND');

    const png = await uploadFile(server.url, alice, await pngBytes(), 'scan.pdf', { contentType: 'application/pdf' });
    expect(png.mime).toBe('image/png');
  });

  it('executable and script names are refused before upload, whatever the content (BR-23)', async () => {
    for (const name of ['tool.exe', 'photo.exe', 'script.vbs', 'run.BAT', 'x.ps1']) {
      expectError(await createUpload(server.url, alice, { name, size: 10, contentType: 'text/plain' }), 415, 'FILE_TYPE_BLOCKED');
    }
    const unknown = await uploadFile(server.url, alice, randomBytes(300), 'data.bin');
    expect(unknown.mime).toBe('application/octet-stream');
    const text = await uploadFile(server.url, alice, Buffer.from('plain words, ünïcode\n'), 'notes.txt');
    expect(text.mime).toBe('text/plain');
  });

  it('names are display metadata only: separators, NUL, bidi overrides removed, length capped, Unicode kept (BR-25, BR-26)', async () => {
    const cases: Array<[string, string]> = [
      ['../../x.txt', 'x.txt'],
      ['/tmp/x', 'x'],
      ['C:\\x.txt', 'x.txt'],
      ['%2e%2e%2fx', '%2e%2e%2fx'],
      ['x\u0000.png', 'x.png'],
      ['invoice\u202Efdp.txt', 'invoicefdp.txt'],
      ['', 'file'],
      ['.', 'file'],
      ['..', 'file'],
      ['報告書.pdf', '報告書.pdf'],
      ['re\u0301sume\u0301.txt', 'résumé.txt'],
      ['😀 party.png', '😀 party.png'],
      ['مرحبا.txt', 'مرحبا.txt'],
      ['a%20b.txt', 'a%20b.txt'],
    ];
    for (const [raw, expected] of cases) {
      const { body, status } = await createUpload(server.url, alice, { name: raw, size: 5 });
      expect({ raw, status, name: body.upload?.name }).toEqual({ raw, status: 201, name: expected });
      await api(server.url, 'DELETE', `/uploads/${body.upload.id}`, { token: alice.accessToken });
    }
    const long = `${'n'.repeat(300)}.txt`;
    const capped = (await createUpload(server.url, alice, { name: long, size: 5 })).body.upload;
    expect([...capped.name].length).toBe(200);
    expect(capped.name.endsWith('.txt')).toBe(true);
    await api(server.url, 'DELETE', `/uploads/${capped.id}`, { token: alice.accessToken });
    // The bytes live under a key the server made, inside the store.
    const objects = readdirSync(join(server.config.dataDir, 'blobs', 'objects', 'f'));
    expect(objects.every((name) => /^[0-9a-f-]{36}(\.thumb)?$/.test(name))).toBe(true);
  });

  it('the download header carries an ASCII fallback and the exact name in filename* (BR-26)', async () => {
    const file = await uploadFile(server.url, alice, Buffer.from('hello'), 'résumé "v2".txt');
    const { body } = await fileLinks(server.url, alice, [file.id]);
    const got = await download(server.url, body.links[0]!.url);
    // Quotes are among the characters Windows refuses in names, so they became "_" when the name was sanitized.
    expect(file.name).toBe('résumé _v2_.txt');
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="r_sum_ _v2_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20_v2_.txt`);
  });

  it("someone else's upload id is 404, for every operation", async () => {
    const { body } = await createUpload(server.url, alice, { name: 'mine.bin', size: 10 });
    const id = body.upload.id;
    expectError(await api(server.url, 'GET', `/uploads/${id}`, { token: bob.accessToken }), 404, 'UPLOAD_NOT_FOUND');
    expectError(await putPart(server.url, bob, id, 1, randomBytes(10)), 404, 'UPLOAD_NOT_FOUND');
    expectError(await completeUpload(server.url, bob, id), 404, 'UPLOAD_NOT_FOUND');
    expectError(await api(server.url, 'DELETE', `/uploads/${id}`, { token: bob.accessToken }), 404, 'UPLOAD_NOT_FOUND');
  });

  it('cancel removes the upload and its parts', async () => {
    const { body } = await createUpload(server.url, alice, { name: 'gone.bin', size: 2 * PART });
    await putPart(server.url, alice, body.upload.id, 1, randomBytes(PART));
    expect((await api(server.url, 'DELETE', `/uploads/${body.upload.id}`, { token: alice.accessToken })).status).toBe(204);
    expectError(await api(server.url, 'GET', `/uploads/${body.upload.id}`, { token: alice.accessToken }), 404, 'UPLOAD_NOT_FOUND');
  });

  it('uploads need authentication', async () => {
    expectError(await api(server.url, 'POST', '/uploads', { body: { name: 'a', size: 1 } }), 401, 'UNAUTHENTICATED');
  });
});
