import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AuthResult, Session } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeUpload, createUpload, download, fileLinks, putPart } from '../support/files.js';
import { api, befriend, nextRid, RawSocket, registerUser } from '../support/helpers.js';
import { startNginx, type TestNginx } from '../support/nginx.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The sample nginx configuration (deploy/nginx/kkchat.conf) in front of one KKChat process, as in production: the
 * node trusts X-Forwarded-For from nginx's address and sees each client's own address, real upload parts (the
 * default part size, far over the server-wide body limit) pass, downloads honour Range, and WebSockets upgrade.
 */
let node: ServerProcess;
let nginx: TestNginx;

beforeAll(async () => {
  node = await startServerProcess({ env: { KKCHAT_TRUST_PROXY: '127.0.0.1' } });
  nginx = await startNginx([Number(new URL(node.url).port)]);
}, 120_000);

afterAll(async () => {
  await nginx?.stop();
  await node?.stop();
}, 60_000);

/** POST JSON through nginx from a chosen loopback source address. */
function postFrom(localAddress: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const url = new URL(nginx.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        localAddress,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('KKChat behind the sample nginx configuration', () => {
  it("the session shows the address the user signed in from, not nginx's", async () => {
    const user = await registerUser(nginx.url, 'px');
    const signedIn = await postFrom('127.0.0.7', '/api/v1/auth/login', { username: user.user.username, password: user.password });
    expect(signedIn.status).toBe(200);
    const { sessionId, accessToken } = signedIn.body as AuthResult;
    const list = await api<{ sessions: Session[] }>(nginx.url, 'GET', '/auth/sessions', { token: accessToken });
    expect(list.status).toBe(200);
    expect(list.body.sessions.find((s) => s.id === sessionId)?.ip).toBe('127.0.0.7');
  });

  it('a file of several default-sized parts uploads and downloads (with Range) through nginx', async () => {
    const user = await registerUser(nginx.url, 'pu');
    const bytes = randomBytes(9 * 1024 * 1024 + 12_345);
    const created = await createUpload(nginx.url, user, { name: 'big.bin', size: bytes.length });
    expect(created.status).toBe(201);
    const { id, partSize } = created.body.upload;
    // The server's own part size: the first part is far over nginx's server-wide 1 MiB body limit.
    expect(partSize).toBeGreaterThan(1024 * 1024);
    for (let offset = 0, part = 1; offset < bytes.length; offset += partSize, part++) {
      const sent = await putPart(nginx.url, user, id, part, bytes.subarray(offset, offset + partSize));
      expect(sent.status, `part ${part}`).toBe(200);
    }
    const done = await completeUpload(nginx.url, user, id);
    expect(done.status).toBe(200);
    expect(done.body.file.size).toBe(bytes.length);

    const links = await fileLinks(nginx.url, user, [done.body.file.id]);
    const url = links.body.links[0]!.url;
    const from = 8 * 1024 * 1024 - 100;
    const ranged = await download(nginx.url, url, { range: `bytes=${from}-${from + 199_999}` });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes ${from}-${from + 199_999}/${bytes.length}`);
    expect(ranged.body.equals(bytes.subarray(from, from + 200_000))).toBe(true);
    const whole = await download(nginx.url, url);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytes)).toBe(true);
  });

  it('a WebSocket through nginx signs in and receives a message', async () => {
    const alice = await registerUser(nginx.url, 'pw');
    const bob = await registerUser(nginx.url, 'pv');
    const conversationId = await befriend(nginx.url, alice, bob);
    const socket = await RawSocket.connect(nginx.wsUrl, bob.accessToken);
    try {
      const sent = await api(nginx.url, 'POST', `/conversations/${conversationId}/messages`, {
        token: alice.accessToken,
        body: { clientMsgId: nextRid('c'), kind: 'text', text: 'through nginx' },
      });
      expect(sent.status).toBe(201);
      const frame = await socket.next('message', (f) => f.message.conversationId === conversationId, 10_000);
      expect(frame.message.kind === 'text' && frame.message.text).toBe('through nginx');
    } finally {
      socket.close();
    }
  });
});
