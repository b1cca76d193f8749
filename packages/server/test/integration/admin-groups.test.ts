import type { AdminGroup, ConversationSummary, Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, newAdmin } from '../support/admin.js';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import { api, befriend, expectError, history, pingPong, RawSocket, restSend, startServer, wsSend, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/** Groups in the admin API: disable (read-only, hidden, members see why), enable, delete (dismissal), lists. */
let server: TestServer;
let admin: ReturnType<typeof adminApi>;
let groups: ReturnType<typeof groupApi>;
let boss: User;

beforeAll(async () => {
  server = await startServer();
  admin = adminApi(server);
  groups = groupApi(server);
  boss = await newAdmin(server, 'gboss');
});
afterAll(async () => {
  await server.close();
});

const groupAction = (id: string, action: 'disable' | 'enable' | 'delete', reason = 'spam ring') =>
  admin.call<{ group: AdminGroup }>(boss, 'POST', `/groups/${id}/${action}`, { reason });

describe('disable and enable', () => {
  it('makes the group read-only for everyone, hides it from outsiders, and shows members why, live', async () => {
    const g = await buildGroup(server, { members: 2, prefix: 'gd' });
    const [member] = g.members as [User];
    const code = (await groups.link(g.owner, g.conversationId)).body.link.code;
    await groups.update(g.owner, g.conversationId, { joinMode: 'open' });
    const socket = await RawSocket.connect(server.wsUrl, member.accessToken);

    const disabled = await groupAction(g.conversationId, 'disable', 'Posting spam links');
    expect(disabled.body.group).toMatchObject({ status: 'disabled', disabledReason: 'Posting spam links' });
    await socket.next('group.updated', (f) => f.conversationId === g.conversationId);
    const summary = await groups.get(member, g.conversationId);
    expect(summary.body.conversation.group).toMatchObject({ disabledReason: 'Posting spam links', membership: 'active' });
    expect(summary.body.conversation.group?.disabledAt).toBeGreaterThan(0);

    // Nobody can write, not even the owner; reading and leaving still work.
    expectError(await restSend(server, g.owner, g.conversationId, 'owner?'), 403, 'GROUP_DISABLED');
    const frame = await wsSend(socket, g.conversationId, 'member?');
    expect(frame).toMatchObject({ type: 'error', code: 'GROUP_DISABLED' });
    expectError(await groups.update(g.admin, g.conversationId, { name: 'Renamed' }), 403, 'GROUP_DISABLED');
    expectError(await groups.mute(g.owner, g.conversationId, member.user.id, Date.now() + 60_000), 403, 'GROUP_DISABLED');
    expect((await history(server, member, g.conversationId)).status).toBe(200);
    // Outsiders cannot find it through its link.
    const outsider = await newUser(server, 'gdo');
    expectError(await groups.call(outsider, 'GET', `/groups/invites/${code}`), 404, 'INVITE_LINK_INVALID');
    expectError(await groups.join(outsider, code), 404, 'INVITE_LINK_INVALID');
    expect((await groups.leave(g.members[1]!, g.conversationId)).status).toBe(200);

    const enabled = await groupAction(g.conversationId, 'enable', 'Cleared');
    expect(enabled.body.group).toMatchObject({ status: 'active', disabledReason: null, disabledAt: null });
    expect((await restSend(server, g.owner, g.conversationId, 'back again')).status).toBe(201);
    expect((await groups.join(outsider, code)).status).toBe(200);
    const actions = (await admin.audit(boss, `targetId=${g.conversationId}`)).body.entries.map((e) => [e.action, e.reason]);
    expect(actions).toEqual([
      ['group.enabled', 'Cleared'],
      ['group.disabled', 'Posting spam links'],
    ]);
    socket.close();
  });

  it('a node whose cached group state is stale still refuses sends: the storing transaction re-checks', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'gs' });
    expect((await restSend(server, g.owner, g.conversationId, 'warm the cache')).status).toBe(201);
    // Disabled behind this node's back (no version bump, no invalidation): only the storing transaction can tell.
    await server.kkchat.platform.db.updateTable('groups').set({ disabled_at: Date.now(), disabled_reason: 'x' }).where('conversation_id', '=', g.conversationId).execute();
    expectError(await restSend(server, g.owner, g.conversationId, 'slips through?'), 403, 'GROUP_DISABLED');
    const last = await history(server, g.owner, g.conversationId);
    expect(last.body.messages.at(-1)).toMatchObject({ kind: 'text', text: 'warm the cache' });
  });
});

describe('delete', () => {
  it('dismisses the group for everyone with a system message by an administrator; members keep the history', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'gx' });
    const [member] = g.members as [User];
    await restSend(server, member, g.conversationId, 'before the end');
    const socket = await RawSocket.connect(server.wsUrl, member.accessToken);

    const deleted = await groupAction(g.conversationId, 'delete', 'Illegal content');
    expect(deleted.body.group.status).toBe('dismissed');
    const removed = await socket.next('group.removed', (f) => f.conversationId === g.conversationId);
    expect(removed.reason).toBe('dismissed');
    const notice = await socket.next('message', (f) => f.message.conversationId === g.conversationId && f.message.kind === 'system');
    expect(notice.message).toMatchObject({ senderId: boss.user.id, event: { type: 'group_dismissed', byAdmin: true } });

    const page = await history(server, member, g.conversationId);
    expect(page.body.messages.map((m: Message) => (m.kind === 'text' ? m.text : m.kind))).toContain('before the end');
    expectError(await restSend(server, g.owner, g.conversationId, 'still?'), 409, 'GROUP_DISMISSED');
    expect((await groups.get(member, g.conversationId)).body.conversation.group?.membership).toBe('dismissed');
    // Again: nothing more happens.
    expect((await groupAction(g.conversationId, 'delete')).status).toBe(200);
    expect((await admin.audit(boss, `targetId=${g.conversationId}&action=group.deleted`)).body.entries).toHaveLength(1);
    // A dismissed group cannot be disabled or enabled.
    expectError(await groupAction(g.conversationId, 'disable'), 409, 'GROUP_DISMISSED');
    await pingPong(socket);
    socket.close();
  });
});

describe('lists and details', () => {
  it('searches by name, filters by status, pages, and shows one group with its members', async () => {
    const tag = `Club${Date.now().toString(36)}`;
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await buildGroup(server, { members: 1, prefix: 'gl', name: `${tag} ${i}` })).conversationId);
    await groupAction(made[0]!, 'disable');
    await groupAction(made[1]!, 'delete');
    const list = (query: string) => admin.call<{ groups: AdminGroup[]; total: number }>(boss, 'GET', `/groups?${query}`);
    expect((await list(`q=${tag.toLowerCase()}`)).body.total).toBe(3);
    expect((await list(`q=${tag}&status=disabled`)).body.groups.map((x) => x.conversationId)).toEqual([made[0]]);
    expect((await list(`q=${tag}&status=dismissed`)).body.groups.map((x) => x.conversationId)).toEqual([made[1]]);
    expect((await list(`q=${tag}&status=active`)).body.groups.map((x) => x.conversationId)).toEqual([made[2]]);
    const paged = await list(`q=${tag}&pageSize=2&page=2`);
    expect(paged.body.groups).toHaveLength(1);
    expect(paged.body.total).toBe(3);

    const one = await admin.call<{ group: AdminGroup & { members: { role: string }[]; description: string } }>(boss, 'GET', `/groups/${made[2]}`);
    expect(one.body.group.memberCount).toBe(3);
    expect(one.body.group.members.map((m) => m.role)).toEqual(['owner', 'admin', 'member']);
    expect(one.body.group.owner).not.toBeNull();
    expectError(await admin.call(boss, 'GET', '/groups/nope'), 404, 'CONVERSATION_NOT_FOUND');
  });

  it('reads any conversation for moderation, and records each read in the audit log', async () => {
    const a = await newUser(server, 'mva');
    const b = await newUser(server, 'mvb');
    const conversationId = await befriend(server.url, a, b);
    for (let i = 1; i <= 5; i++) await restSend(server, a, conversationId, `private ${i}`);
    const page = await admin.call<{ messages: Message[]; hasMore: boolean; users: { id: string }[] }>(boss, 'GET', `/conversations/${conversationId}/messages?limit=3`);
    expect(page.body.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(page.body.hasMore).toBe(true);
    expect(page.body.users.map((u) => u.id)).toEqual([a.user.id]);
    const older = await admin.call<{ messages: Message[]; hasMore: boolean }>(boss, 'GET', `/conversations/${conversationId}/messages?before=3`);
    expect(older.body.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(older.body.hasMore).toBe(false);
    const reads = await admin.audit(boss, `targetId=${conversationId}&action=conversation.viewed`);
    expect(reads.body.entries).toHaveLength(2);
    expect(reads.body.entries[0]!.actor?.id).toBe(boss.user.id);
    // Named by the two people, resolved when the log is read.
    expect(reads.body.entries[0]!.targetLabel).toBe([a.user.displayName, b.user.displayName].sort().join(' & '));
    void (null as unknown as ConversationSummary);
  });
});
