import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeUpload, createUpload, download, fileLinks, putPart } from '../support/files.js';
import { api, registerUser, startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

const PART = 64 * 1024;

/**
 * The upload session lives in the database, so an upload started on one node continues on another (issue 5 runs
 * several nodes on one database and one store). Two servers here share a SQLite file and a blob directory.
 */
describe('an upload continued on another node', () => {
  const shared = mkdtempSync(join(tmpdir(), 'kkchat-two-nodes-'));
  let node1: TestServer;
  let node2: TestServer;

  beforeAll(async () => {
    const env = { KKCHAT_DATA_DIR: shared, KKCHAT_JWT_SECRET: 'x'.repeat(48) };
    node1 = await startServer(env);
    node2 = await startServer(env);
    node1.config.files.partBytes = PART;
    node2.config.files.partBytes = PART;
  });
  afterAll(async () => {
    await node1?.close();
    await node2?.close();
    rmSync(shared, { recursive: true, force: true });
  });

  it('parts alternate between nodes; the node that completes it hashes what it did not see', async () => {
    const user = await registerUser(node1.url, 'tn');
    const bytes = randomBytes(3 * PART + 5);
    const { body } = await createUpload(node1.url, user, { name: 'roaming.bin', size: bytes.length });
    const id = body.upload.id;
    expect((await putPart(node1.url, user, id, 1, bytes.subarray(0, PART))).status).toBe(200);
    expect((await api<{ upload: { received: number } }>(node2.url, 'GET', `/uploads/${id}`, { token: user.accessToken })).body.upload.received).toBe(PART);
    expect((await putPart(node2.url, user, id, 2, bytes.subarray(PART, 2 * PART))).status).toBe(200);
    expect((await putPart(node1.url, user, id, 3, bytes.subarray(2 * PART, 3 * PART))).status).toBe(200);
    expect((await putPart(node2.url, user, id, 4, bytes.subarray(3 * PART))).status).toBe(200);
    const file = (await completeUpload(node2.url, user, id)).body.file;
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    // A link signed by one node is honoured by the other (the key comes from the shared secret).
    const link = (await fileLinks(node1.url, user, [file.id])).body.links[0]!;
    expect((await download(node2.url, link.url)).body.equals(bytes)).toBe(true);
  });
});
