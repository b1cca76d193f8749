import { randomBytes } from 'node:crypto';
import type { FileLink, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, fileLinks, pngBytes, uploadFile, webmBytes } from '../support/files.js';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import { api, befriend, expectError, friends, nextRid, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

async function sendFile(server: TestServer, user: User, conversationId: string, body: Record<string, unknown>) {
  return api<{ message: Message; duplicate: boolean }>(server.url, 'POST', `/conversations/${conversationId}/messages`, {
    token: user.accessToken,
    body: { clientMsgId: nextRid('f'), ...body },
  });
}

/** The link for one file as `user` gets it, or null when the server leaves it out. */
async function linkFor(server: TestServer, user: User, fileId: string): Promise<FileLink | null> {
  const { body } = await fileLinks(server.url, user, [fileId]);
  return body.links.find((l) => l.fileId === fileId) ?? null;
}

describe('files: who may read what (BR-19), signed links, safe serving', () => {
  let server: TestServer;
  let clock = Date.now();

  beforeAll(async () => {
    server = await startServer({}, { now: () => clock });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a file sent in a direct chat is readable by both, and 404 for anyone else', async () => {
    const { a, b, conversationId } = await friends(server, 'fa');
    const outsider = await newUser(server, 'fo');
    const file = await uploadFile(server.url, a, randomBytes(1000), 'plan.pdf');
    // Before it is sent only the uploader can read it.
    expect(await linkFor(server, b, file.id)).toBeNull();
    expectError(await api(server.url, 'GET', `/files/${file.id}`, { token: b.accessToken }), 404, 'FILE_NOT_FOUND');
    const sent = await sendFile(server, a, conversationId, { kind: 'file', fileId: file.id });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({ kind: 'file', file: { id: file.id, name: 'plan.pdf', size: 1000 } });
    const link = await linkFor(server, b, file.id);
    expect(link).not.toBeNull();
    expect((await download(server.url, link!.url)).status).toBe(200);
    expect(await linkFor(server, outsider, file.id)).toBeNull();
    expectError(await api(server.url, 'GET', `/files/${file.id}`, { token: outsider.accessToken }), 404, 'FILE_NOT_FOUND');
    expectError(await api(server.url, 'GET', `/files/${randomBytes(8).toString('hex')}`, { token: outsider.accessToken }), 404, 'FILE_NOT_FOUND');
    // Bearer download of someone else's file id: the same 404, never the bytes.
    const bearer = await fetch(`${server.url}/api/v1/files/${file.id}/content`, { headers: { authorization: `Bearer ${outsider.accessToken}` } });
    expect(bearer.status).toBe(404);
    expect((await bearer.json()).error.code).toBe('FILE_NOT_FOUND');
  });

  it('a file cannot be attached by someone who is not its owner, nor into a conversation one is not in', async () => {
    const { a, b, conversationId } = await friends(server, 'fb');
    const other = await friends(server, 'fc');
    const file = await uploadFile(server.url, a, randomBytes(10), 'mine.bin');
    expectError(await sendFile(server, b, conversationId, { kind: 'file', fileId: file.id }), 404, 'FILE_NOT_FOUND');
    expectError(await sendFile(server, a, other.conversationId, { kind: 'file', fileId: file.id }), 404, 'CONVERSATION_NOT_FOUND');
  });

  it('the kind must fit the content; a retry with the same client id is idempotent', async () => {
    const { a, conversationId } = await friends(server, 'fd');
    const data = await uploadFile(server.url, a, randomBytes(100), 'notes.bin');
    expectError(await sendFile(server, a, conversationId, { kind: 'image', fileId: data.id }), 400, 'FILE_KIND_MISMATCH');
    expectError(await sendFile(server, a, conversationId, { kind: 'audio', fileId: data.id }), 400, 'FILE_KIND_MISMATCH');
    const image = await uploadFile(server.url, a, await pngBytes(100, 50), 'cat.png');
    const clientMsgId = nextRid('img');
    const first = await sendFile(server, a, conversationId, { clientMsgId, kind: 'image', fileId: image.id });
    expect(first.status).toBe(201);
    expect(first.body.message).toMatchObject({ kind: 'image', file: { mime: 'image/png', width: 100, height: 50, thumbnail: { width: 100, height: 50 } } });
    const again = await sendFile(server, a, conversationId, { clientMsgId, kind: 'image', fileId: image.id });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, message: { seq: first.body.message.seq } });
    expectError(await sendFile(server, a, conversationId, { clientMsgId, kind: 'file', fileId: image.id }), 409, 'CLIENT_MSG_ID_CONFLICT');
    // The conversation list shows it as the last message.
    const list = await api<{ conversations: Array<{ id: string; lastMessage: Message | null }> }>(server.url, 'GET', '/conversations', { token: a.accessToken });
    expect(list.body.conversations.find((c) => c.id === conversationId)?.lastMessage).toMatchObject({ kind: 'image' });
  });

  it('a forged, altered or expired link is refused; a valid one for a user who lost access is 404', async () => {
    const { a, b, conversationId } = await friends(server, 'fe');
    const file = await uploadFile(server.url, a, randomBytes(64), 'secret.bin');
    await sendFile(server, a, conversationId, { kind: 'file', fileId: file.id });
    const link = (await linkFor(server, b, file.id))!;
    const url = new URL(link.url, server.url);
    const withParam = (name: string, value: string) => {
      const copy = new URL(url);
      copy.searchParams.set(name, value);
      return copy.pathname + copy.search;
    };
    const forged = await download(server.url, withParam('sig', 'A'.repeat(43)));
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.body.toString()).error.code).toBe('FILE_LINK_INVALID');
    // Someone else's id in a link made for b, a longer expiry, or another variant: the signature no longer fits.
    for (const altered of [withParam('u', a.user.id), withParam('exp', String(link.expiresAt + 3600_000)), withParam('v', 'thumb')]) {
      expect(JSON.parse((await download(server.url, altered)).body.toString()).error.code).toBe('FILE_LINK_INVALID');
    }
    // Without a signature or a token: unauthenticated.
    expect((await download(server.url, `/api/v1/files/${file.id}/content`)).status).toBe(401);
    clock += 3600_000;
    try {
      const expired = await download(server.url, link.url);
      expect(expired.status).toBe(403);
      expect(JSON.parse(expired.body.toString()).error.code).toBe('FILE_LINK_EXPIRED');
    } finally {
      clock -= 3600_000;
    }
  });

  it('departed group members keep the files of what they saw, nothing after; later joiners nothing before', async () => {
    const group = await buildGroup(server, { members: 2, prefix: 'fg' });
    const [stayer, leaver] = group.members as [User, User];
    const groups = groupApi(server);
    const before = await uploadFile(server.url, group.owner, randomBytes(32), 'before.bin');
    expect((await sendFile(server, group.owner, group.conversationId, { kind: 'file', fileId: before.id })).status).toBe(201);
    expect((await groups.leave(leaver, group.conversationId)).status).toBe(200);
    const after = await uploadFile(server.url, group.owner, randomBytes(32), 'after.bin');
    expect((await sendFile(server, group.owner, group.conversationId, { kind: 'file', fileId: after.id })).status).toBe(201);

    expect(await linkFor(server, stayer, before.id)).not.toBeNull();
    expect(await linkFor(server, stayer, after.id)).not.toBeNull();
    expect(await linkFor(server, leaver, before.id)).not.toBeNull();
    expect(await linkFor(server, leaver, after.id)).toBeNull();

    const late = await newUser(server, 'fl');
    await befriend(server.url, group.owner, late);
    expect((await groups.add(group.owner, group.conversationId, [late.user.id])).status).toBe(200);
    expect(await linkFor(server, late, before.id)).toBeNull();
    expect(await linkFor(server, late, after.id)).toBeNull();
    const later = await uploadFile(server.url, group.owner, randomBytes(32), 'later.bin');
    await sendFile(server, group.owner, group.conversationId, { kind: 'file', fileId: later.id });
    expect(await linkFor(server, late, later.id)).not.toBeNull();
    // Removed later: what they saw stays theirs, what comes after does not.
    const stayerLink = (await linkFor(server, stayer, later.id))!;
    await groups.remove(group.owner, group.conversationId, stayer.user.id);
    expect((await download(server.url, stayerLink.url)).status).toBe(200);
    const afterRemoval = await uploadFile(server.url, group.owner, randomBytes(32), 'after-removal.bin');
    await sendFile(server, group.owner, group.conversationId, { kind: 'file', fileId: afterRemoval.id });
    expect(await linkFor(server, stayer, afterRemoval.id)).toBeNull();
  });

  it('a dismissed group keeps its files readable to those who were members (retention rule)', async () => {
    const group = await buildGroup(server, { members: 1, prefix: 'fz' });
    const file = await uploadFile(server.url, group.members[0]!, randomBytes(48), 'kept.bin');
    await sendFile(server, group.members[0]!, group.conversationId, { kind: 'file', fileId: file.id });
    expect((await groupApi(server).dismiss(group.owner, group.conversationId)).status).toBe(200);
    for (const user of [group.owner, group.admin, group.members[0]!]) {
      const link = await linkFor(server, user, file.id);
      expect((await download(server.url, link!.url)).status).toBe(200);
    }
    expect(await linkFor(server, await newUser(server, 'fzo'), file.id)).toBeNull();
  });

  it('a valid link stops working once its user has lost access (the message was removed)', async () => {
    const { a, b, conversationId } = await friends(server, 'fx');
    const file = await uploadFile(server.url, a, randomBytes(64), 'removed.bin');
    const sent = await sendFile(server, a, conversationId, { kind: 'file', fileId: file.id });
    const link = (await linkFor(server, b, file.id))!;
    expect((await download(server.url, link.url)).status).toBe(200);
    // What message removal (administration) does to a message's file.
    await server.kkchat.services.files.releaseAttachments(conversationId, [sent.body.message.seq]);
    const refused = await download(server.url, link.url);
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body.toString()).error.code).toBe('FILE_NOT_FOUND');
    expect((await download(server.url, (await linkFor(server, a, file.id))!.url)).status).toBe(200);
  });

  it('files are served so that nothing can run on the KKChat origin', async () => {
    const { a, b, conversationId } = await friends(server, 'fs');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>');
    const html = Buffer.from('<!doctype html><html><body><script>alert(3)</script></body></html>');
    for (const [bytes, name] of [
      [svg, 'pic.svg'],
      [html, 'page.html'],
    ] as const) {
      const file = await uploadFile(server.url, a, bytes, name, { contentType: name.endsWith('svg') ? 'image/svg+xml' : 'text/html' });
      expectError(await sendFile(server, a, conversationId, { kind: 'image', fileId: file.id }), 400, 'FILE_KIND_MISMATCH');
      expect((await sendFile(server, a, conversationId, { kind: 'file', fileId: file.id })).status).toBe(201);
      const got = await download(server.url, (await linkFor(server, b, file.id))!.url);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('application/octet-stream');
      expect(got.headers.get('content-disposition')).toMatch(/^attachment; /);
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');
      expect(got.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(got.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    }
    const image = await uploadFile(server.url, a, await pngBytes(), 'ok.png');
    await sendFile(server, a, conversationId, { kind: 'image', fileId: image.id });
    const link = (await linkFor(server, b, image.id))!;
    const inline = await download(server.url, link.url);
    expect(inline.headers.get('content-type')).toBe('image/png');
    expect(inline.headers.get('content-disposition')).toMatch(/^inline; /);
    expect(inline.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(inline.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    expect((await download(server.url, link.downloadUrl)).headers.get('content-disposition')).toMatch(/^attachment; /);
  });

  it('downloads support HTTP Range and conditional requests', async () => {
    const { a } = await friends(server, 'fr');
    const bytes = randomBytes(10_000);
    const file = await uploadFile(server.url, a, bytes, 'range.bin');
    const url = (await linkFor(server, a, file.id))!.url;
    const part = await download(server.url, url, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/10000');
    expect(part.body.equals(bytes.subarray(100, 200))).toBe(true);
    const tail = await download(server.url, url, { range: 'bytes=-10' });
    expect(tail.body.equals(bytes.subarray(-10))).toBe(true);
    const open = await download(server.url, url, { range: 'bytes=9990-' });
    expect(open.body.equals(bytes.subarray(9990))).toBe(true);
    const outside = await download(server.url, url, { range: 'bytes=20000-20010' });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe('bytes */10000');
    expect(JSON.parse(outside.body.toString()).error.code).toBe('RANGE_NOT_SATISFIABLE');
    const whole = await download(server.url, url);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect((await download(server.url, url, { 'if-none-match': whole.headers.get('etag')! })).status).toBe(304);
  });

  it('files sent in a group reach members as messages with their metadata', async () => {
    const group = await buildGroup(server, { members: 1, prefix: 'fm' });
    const clip = await uploadFile(server.url, group.admin, webmBytes(randomBytes(400)), 'voice.webm');
    const sent = await sendFile(server, group.admin, group.conversationId, { kind: 'audio', fileId: clip.id, durationMs: 3200 });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({ kind: 'audio', durationMs: 3200, file: { id: clip.id } });
    const history = await api<{ messages: Message[] }>(server.url, 'GET', `/conversations/${group.conversationId}/messages`, { token: group.members[0]!.accessToken });
    expect(history.body.messages.at(-1)).toMatchObject({ kind: 'audio', file: { id: clip.id, name: 'voice.webm' } });
  });
});
