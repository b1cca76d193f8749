import { beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { defineComponent, h } from 'vue';
import { createMemoryHistory } from 'vue-router';
import type { AdminUserDetails, AuthResult } from '@kkchat/protocol';
import { ApiError } from '@kkchat/client';
import { createAppRouter } from '../../router';
import { useSessionStore } from '../../stores/session';
import { useUiStore } from '../../stores/ui';
import { mountWithApp } from '../../test-support/mount';
import { buildUser, installFakeClient, type FakeClient } from '../../test-support/fake-client';
import AppSidebar from '../../components/sidebar/AppSidebar.vue';
import ReasonDialog from '../../components/common/ReasonDialog.vue';
import AdminUser from './AdminUser.vue';
import AdminDashboard from './AdminDashboard.vue';

const me = buildUser('me');
const auth = (role: 'user' | 'admin'): AuthResult => ({
  user: me,
  sessionId: 's',
  accessToken: 'a',
  accessTokenExpiresAt: Date.now() + 60_000,
  refreshToken: '',
  refreshTokenExpiresAt: Date.now() + 60_000,
  role,
});

function details(overrides: Partial<AdminUserDetails> = {}): AdminUserDetails {
  return {
    user: buildUser('bob', { displayName: 'Bob Chen' }),
    role: 'user',
    status: 'active',
    createdAt: 1_700_000_000_000,
    lastSeenAt: null,
    disabledAt: null,
    deletedAt: null,
    online: true,
    mustChangePassword: false,
    sessions: [],
    groups: [],
    conversations: [],
    ...overrides,
  };
}

describe('the admin area', () => {
  let client: FakeClient;
  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient(me);
  });

  it('is guarded by the role: a normal user who opens /admin lands on the chats, an admin gets in', async () => {
    client.auth.restore.mockResolvedValueOnce(auth('user'));
    const router = createAppRouter(createMemoryHistory());
    await router.push('/admin/users');
    expect(router.currentRoute.value.name).toBe('home');
    expect(useUiStore().toasts.map((t) => [t.key, t.kind])).toEqual([['errors.ADMIN_REQUIRED', 'error']]);

    setActivePinia(createPinia());
    installFakeClient(me).auth.restore.mockResolvedValueOnce(auth('admin'));
    const adminRouter = createAppRouter(createMemoryHistory());
    await adminRouter.push('/admin/users');
    expect(adminRouter.currentRoute.value.name).toBe('admin-users');
  });

  it('shows the entry only to admins, and hides it as soon as the role is revoked', async () => {
    const session = useSessionStore();
    session.user = me;
    session.role = 'user';
    const { wrapper } = mountWithApp(AppSidebar);
    expect(wrapper.find('[data-testid="nav-admin"]').exists()).toBe(false);
    session.setRole('admin');
    await flushPromises();
    expect(wrapper.find('[data-testid="nav-admin"]').exists()).toBe(true);
    session.setRole('user');
    await flushPromises();
    expect(wrapper.find('[data-testid="nav-admin"]').exists()).toBe(false);
  });

  it('an action asks for a reason, cannot be confirmed without one, and sends it', async () => {
    client.admin.user.mockResolvedValue(details());
    client.admin.disable.mockResolvedValue(details({ status: 'disabled' }));
    const Host = defineComponent({ setup: () => () => [h(AdminUser, { id: 'bob' }), h(ReasonDialog)] });
    const { wrapper } = mountWithApp(Host);
    await flushPromises();
    expect(wrapper.get('[data-testid="admin-user-name"]').text()).toBe('Bob Chen');
    await wrapper.get('[data-testid="admin-user-action-disable"]').trigger('click');
    await flushPromises();
    expect(wrapper.get('[data-testid="reason-dialog"]').text()).toContain('Disable Bob Chen?');
    expect(wrapper.get('[data-testid="reason-confirm"]').attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="reason-input"]').setValue('  Spamming links  ');
    await wrapper.get('[data-testid="reason-dialog"]').trigger('submit');
    await flushPromises();
    expect(client.admin.disable).toHaveBeenCalledWith('bob', 'Spamming links');
  });

  it('shows a one-time password once, after a reset', async () => {
    client.admin.user.mockResolvedValue(details());
    client.admin.resetPassword.mockResolvedValue('abcd-efgh-jkmn-pqrs');
    const Host = defineComponent({ setup: () => () => [h(AdminUser, { id: 'bob' }), h(ReasonDialog)] });
    const { wrapper } = mountWithApp(Host);
    await flushPromises();
    await wrapper.get('[data-testid="admin-user-action-resetPassword"]').trigger('click');
    await flushPromises();
    await wrapper.get('[data-testid="reason-input"]').setValue('Forgot it');
    await wrapper.get('[data-testid="reason-dialog"]').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="admin-otp-value"]').text()).toBe('abcd-efgh-jkmn-pqrs');
    await wrapper.get('[data-testid="admin-otp-done"]').trigger('click');
    expect(wrapper.find('[data-testid="admin-otp"]').exists()).toBe(false);
  });

  it('the dashboard says storage is not available rather than showing a made-up number', async () => {
    client.admin.stats.mockResolvedValue({
      generatedAt: Date.now(),
      users: { registered: 12, disabled: 1, admins: 2 },
      onlineNow: 3,
      messagesToday: 40,
      messagesPerDay: [{ day: '2026-01-01', count: 40 }],
      registrationsPerDay: [{ day: '2026-01-01', count: 2 }],
      groups: { total: 5, active: 2, disabled: 1 },
      storage: { available: false, usedBytes: null },
    });
    const { wrapper } = mountWithApp(AdminDashboard, { locale: 'zh-CN' });
    await flushPromises();
    expect(wrapper.get('[data-testid="stat-storage"]').text()).toContain('暂不可用');
    expect(wrapper.get('[data-testid="stat-registered"]').text()).toContain('12');
    expect(wrapper.find('[data-testid="chart-messages"]').findAll('[data-testid="bar"]')).toHaveLength(1);
    expect(wrapper.find('[data-testid="chart-registrations"]').exists()).toBe(true);
  });

  it('a failed admin call shows its translated error', async () => {
    client.admin.user.mockRejectedValue(ApiError.of('ADMIN_REQUIRED'));
    const { wrapper } = mountWithApp(AdminUser, { props: { id: 'bob' } });
    await flushPromises();
    expect(wrapper.get('[role="alert"]').text()).toBe('Only administrators can do this.');
  });
});
