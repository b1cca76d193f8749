import type { AdminUser, AuditEntry } from '@kkchat/protocol';
import { changeRoleByName } from '../../src/modules/admin/admin.bootstrap.js';
import { api, registerUser, type User } from './helpers.js';
import type { TestServer } from './test-server.js';

/** Grants the admin role the way the `admin` command does (the documented first-admin path). */
export async function makeAdmin(server: TestServer, user: User): Promise<void> {
  await changeRoleByName(server.kkchat.platform.db, Date.now, user.user.username, 'admin', 'cli', 'test setup');
}

/** A fresh account with the admin role (buildAdmin factory). */
export async function newAdmin(server: TestServer, prefix = 'adm'): Promise<User> {
  const user = (await registerUser(server.url, prefix)) as User;
  await makeAdmin(server, user);
  return user;
}

/** Typed calls to the admin API as `user`. */
export function adminApi(server: TestServer) {
  const call = <T = unknown>(user: User, method: string, path: string, body?: unknown) =>
    api<T>(server.url, method, `/admin${path}`, { token: user.accessToken, ...(body !== undefined ? { body } : {}) });
  const reason = 'integration test';
  return {
    call,
    user: (as: User, id: string) => call<{ user: AdminUser & { sessions: unknown[] } }>(as, 'GET', `/users/${id}`),
    disable: (as: User, id: string) => call<{ user: AdminUser }>(as, 'POST', `/users/${id}/disable`, { reason }),
    enable: (as: User, id: string) => call<{ user: AdminUser }>(as, 'POST', `/users/${id}/enable`, { reason }),
    signOut: (as: User, id: string) => call<{ user: AdminUser }>(as, 'POST', `/users/${id}/sign-out`, { reason }),
    remove: (as: User, id: string) => call<{ user: AdminUser }>(as, 'POST', `/users/${id}/delete`, { reason }),
    resetPassword: (as: User, id: string) => call<{ oneTimePassword: string }>(as, 'POST', `/users/${id}/reset-password`, { reason }),
    setRole: (as: User, id: string, role: 'admin' | 'user') => call<{ user: AdminUser }>(as, 'POST', `/users/${id}/role`, { role, reason }),
    bulkDisable: (as: User, userIds: string[]) =>
      call<{ disabled: string[]; skipped: { userId: string; code: string }[] }>(as, 'POST', '/users/disable', { userIds, reason }),
    removeMessage: (as: User, conversationId: string, seq: number, why = reason) =>
      call<{ message: { kind: string; seq: number } }>(as, 'POST', `/conversations/${conversationId}/messages/${seq}/remove`, { reason: why }),
    audit: (as: User, query = '') => call<{ entries: AuditEntry[]; nextCursor: string | null }>(as, 'GET', `/audit${query ? `?${query}` : ''}`),
  };
}
