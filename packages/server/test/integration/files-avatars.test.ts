import { randomBytes } from 'node:crypto';
import type { ConversationSummary, Message, UserPublic } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, fileLinks, pngBytes, uploadFile } from '../support/files.js';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import { api, expectError, friends, startServer } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

describe('avatars: real uploads for users and groups', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a user sets an uploaded image as avatar; friends see it and anyone signed in can load its thumbnail', async () => {
    const { a, b } = await friends(server, 'av');
    const stranger = await newUser(server, 'avs');
    const picture = await uploadFile(server.url, a, await pngBytes(512, 512), 'me.png', { purpose: 'avatar' });
    const set = await api<{ user: UserPublic }>(server.url, 'PUT', '/users/me/avatar', { token: a.accessToken, body: { fileId: picture.id } });
    expect(set.status).toBe(200);
    expect(set.body.user.avatar).toBe(picture.id);
    const seen = await api<{ user: UserPublic }>(server.url, 'GET', `/users/${a.user.id}`, { token: b.accessToken });
    expect(seen.body.user.avatar).toBe(picture.id);
    const link = (await fileLinks(server.url, stranger, [picture.id])).body.links[0]!;
    const thumb = await download(server.url, link.thumbnailUrl!);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const cleared = await api<{ user: UserPublic }>(server.url, 'DELETE', '/users/me/avatar', { token: a.accessToken });
    expect(cleared.body.user.avatar).toBe('');
  });

  it('refuses an attachment, someone else’s file, or a file that is not an image', async () => {
    const { a, b } = await friends(server, 'ax');
    const attachment = await uploadFile(server.url, a, await pngBytes(), 'x.png');
    expectError(await api(server.url, 'PUT', '/users/me/avatar', { token: a.accessToken, body: { fileId: attachment.id } }), 404, 'FILE_NOT_FOUND');
    const theirs = await uploadFile(server.url, b, await pngBytes(), 'b.png', { purpose: 'avatar' });
    expectError(await api(server.url, 'PUT', '/users/me/avatar', { token: a.accessToken, body: { fileId: theirs.id } }), 404, 'FILE_NOT_FOUND');
    const notImage = await uploadFile(server.url, a, randomBytes(100), 'noise.bin', { purpose: 'avatar' });
    expectError(await api(server.url, 'PUT', '/users/me/avatar', { token: a.accessToken, body: { fileId: notImage.id } }), 400, 'FILE_KIND_MISMATCH');
  });

  it('owner and admins set the group picture (avatar_changed); a member cannot', async () => {
    const group = await buildGroup(server, { members: 1, prefix: 'ag' });
    const groups = groupApi(server);
    const memberPicture = await uploadFile(server.url, group.members[0]!, await pngBytes(), 'm.png', { purpose: 'avatar' });
    expectError(await groups.update(group.members[0]!, group.conversationId, { avatar: memberPicture.id }), 403, 'GROUP_PERMISSION_DENIED');
    const adminPicture = await uploadFile(server.url, group.admin, await pngBytes(300, 300), 'g.png', { purpose: 'avatar' });
    // Another user's file cannot become the group picture, even by an admin.
    expectError(await groups.update(group.admin, group.conversationId, { avatar: memberPicture.id }), 404, 'FILE_NOT_FOUND');
    const updated = await groups.update(group.admin, group.conversationId, { avatar: adminPicture.id });
    expect(updated.status).toBe(200);
    expect((updated.body as { conversation: ConversationSummary }).conversation.group?.avatar).toBe(adminPicture.id);
    const history = await api<{ messages: Message[] }>(server.url, 'GET', `/conversations/${group.conversationId}/messages`, { token: group.members[0]!.accessToken });
    expect(history.body.messages.at(-1)).toMatchObject({ kind: 'system', event: { type: 'avatar_changed', value: adminPicture.id, actorId: group.admin.user.id } });
    // A group picture is readable by members like any avatar.
    expect((await fileLinks(server.url, group.members[0]!, [adminPicture.id])).body.links).toHaveLength(1);
  });
});
