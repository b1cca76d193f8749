import type { ConversationSummary, GroupMember } from '@kkchat/protocol';
import { api, befriend, registerUser, type User } from './helpers.js';
import type { TestServer } from './test-server.js';

/** A group with an owner, an admin and plain members, all friends of the owner (buildGroup factory). */
export interface GroupFixture {
  conversationId: string;
  owner: User;
  admin: User;
  members: User[];
}

export async function newUser(server: TestServer, prefix = 'g'): Promise<User> {
  return (await registerUser(server.url, prefix)) as User;
}

export async function buildGroup(server: TestServer, options: { members?: number; name?: string; prefix?: string } = {}): Promise<GroupFixture> {
  const prefix = options.prefix ?? 'g';
  const owner = await newUser(server, `${prefix}o`);
  const admin = await newUser(server, `${prefix}a`);
  const members: User[] = [];
  for (let i = 0; i < (options.members ?? 1); i++) members.push(await newUser(server, `${prefix}m`));
  for (const user of [admin, ...members]) await befriend(server.url, owner, user);
  const created = await api<{ conversation: ConversationSummary }>(server.url, 'POST', '/groups', {
    token: owner.accessToken,
    body: { name: options.name ?? 'Team', memberIds: [admin, ...members].map((u) => u.user.id) },
  });
  if (created.status !== 201) throw new Error(`create group failed: ${JSON.stringify(created.body)}`);
  const conversationId = created.body.conversation.id;
  const role = await api(server.url, 'PUT', `/groups/${conversationId}/members/${admin.user.id}/role`, {
    token: owner.accessToken,
    body: { role: 'admin' },
  });
  if (role.status !== 200) throw new Error(`set role failed: ${JSON.stringify(role.body)}`);
  return { conversationId, owner, admin, members };
}

export function groupApi(server: TestServer) {
  const call = <T = unknown>(user: User, method: string, path: string, body?: unknown) =>
    api<T>(server.url, method, path, { token: user.accessToken, ...(body !== undefined ? { body } : {}) });
  return {
    call,
    get: (user: User, id: string) => call<{ conversation: ConversationSummary }>(user, 'GET', `/groups/${id}`),
    members: (user: User, id: string) => call<{ members: GroupMember[] }>(user, 'GET', `/groups/${id}/members`),
    add: (user: User, id: string, userIds: string[]) => call<{ added: string[]; requested: string[] }>(user, 'POST', `/groups/${id}/members`, { userIds }),
    remove: (user: User, id: string, userId: string) => call(user, 'DELETE', `/groups/${id}/members/${userId}`),
    update: (user: User, id: string, body: Record<string, unknown>) => call<{ conversation: ConversationSummary }>(user, 'PATCH', `/groups/${id}`, body),
    leave: (user: User, id: string) => call(user, 'POST', `/groups/${id}/leave`),
    dismiss: (user: User, id: string) => call(user, 'POST', `/groups/${id}/dismiss`),
    mute: (user: User, id: string, userId: string, mutedUntil: number | null) => call(user, 'PUT', `/groups/${id}/members/${userId}/mute`, { mutedUntil }),
    role: (user: User, id: string, userId: string, role: string) => call(user, 'PUT', `/groups/${id}/members/${userId}/role`, { role }),
    transfer: (user: User, id: string, userId: string) => call(user, 'POST', `/groups/${id}/transfer`, { userId }),
    link: (user: User, id: string) => call<{ link: { code: string } }>(user, 'POST', `/groups/${id}/invite-link`),
    join: (user: User, code: string) => call<{ status: string }>(user, 'POST', `/groups/invites/${code}/join`, {}),
  };
}
