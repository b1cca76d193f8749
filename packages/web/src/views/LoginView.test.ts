import { beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { ApiError } from '@kkchat/client';
import LoginView from './LoginView.vue';
import RegisterView from './RegisterView.vue';
import { mountWithApp } from '../test-support/mount';
import { installFakeClient, type FakeClient } from '../test-support/fake-client';

describe('sign-in and registration forms', () => {
  let client: FakeClient;
  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient();
  });

  it('shows a translated message for wrong credentials', async () => {
    client.auth.login.mockRejectedValueOnce(ApiError.of('INVALID_CREDENTIALS'));
    const { wrapper } = mountWithApp(LoginView);
    await wrapper.get('[data-testid="login-username"]').setValue('ann');
    await wrapper.get('[data-testid="login-password"]').setValue('wrong-password');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(client.auth.login).toHaveBeenCalledWith({ username: 'ann', password: 'wrong-password' });
    expect(wrapper.get('[data-testid="login-error"]').text()).toBe('Wrong username or password.');
  });

  it('shows how long to wait when throttled, and disables the button', async () => {
    client.auth.login.mockRejectedValueOnce(
      new ApiError('LOGIN_THROTTLED', 'Too many sign-in attempts; try again later.', 429, { retryAfterMs: 42_500 }),
    );
    const { wrapper } = mountWithApp(LoginView);
    await wrapper.get('[data-testid="login-username"]').setValue('ann');
    await wrapper.get('[data-testid="login-password"]').setValue('password');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="login-error"]').text()).toContain('Try again in 43 s.');
    expect(wrapper.get('[data-testid="login-submit"]').attributes('disabled')).toBeDefined();
  });

  it('puts server field errors under their fields', async () => {
    client.auth.register.mockRejectedValueOnce(
      new ApiError('VALIDATION_FAILED', 'invalid', 400, { fields: [{ field: 'body.displayName', message: 'too long' }] }),
    );
    const { wrapper } = mountWithApp(RegisterView);
    await wrapper.get('[data-testid="register-username"]').setValue('ann_b');
    await wrapper.get('[data-testid="register-display-name"]').setValue('Ann');
    await wrapper.get('[data-testid="register-password"]').setValue('long enough');
    await wrapper.get('[data-testid="register-confirm"]').setValue('long enough');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="register-display-name-error"]').text()).toBe('too long');
    expect(wrapper.find('[data-testid="register-error"]').exists()).toBe(false);
  });

  it('checks the form locally before calling the server, in the chosen language', async () => {
    const { wrapper } = mountWithApp(RegisterView, { locale: 'zh-CN' });
    await wrapper.get('[data-testid="register-username"]').setValue('a');
    await wrapper.get('[data-testid="register-password"]').setValue('short');
    await wrapper.get('[data-testid="register-confirm"]').setValue('other');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(client.auth.register).not.toHaveBeenCalled();
    expect(wrapper.get('[data-testid="register-confirm-error"]').text()).toBe('两次输入的密码不一致。');
    expect(wrapper.find('[data-testid="register-username-error"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="register-password-error"]').exists()).toBe(true);
  });
});

describe('signing in after an administrator acted', () => {
  let client: FakeClient;
  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient();
  });

  it('a one-time password leads to a new-password step, then signs in with the new password', async () => {
    client.auth.login.mockRejectedValueOnce(ApiError.of('PASSWORD_CHANGE_REQUIRED'));
    client.auth.renewPassword.mockResolvedValueOnce({
      user: { id: 'me', username: 'ann', displayName: 'Ann', bio: '', createdAt: 1 },
      sessionId: 's',
      accessToken: 'a',
      accessTokenExpiresAt: Date.now() + 60_000,
      refreshToken: '',
      refreshTokenExpiresAt: Date.now() + 60_000,
      role: 'user',
    });
    const { wrapper } = mountWithApp(LoginView);
    await wrapper.get('[data-testid="login-username"]').setValue('ann');
    await wrapper.get('[data-testid="login-password"]').setValue('abcd-efgh-jkmn-pqrs');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Choose a new password');
    await wrapper.get('[data-testid="login-new-password"]').setValue('my own password');
    await wrapper.get('[data-testid="login-confirm-password"]').setValue('something else');
    await wrapper.get('form').trigger('submit');
    expect(wrapper.text()).toContain('The passwords do not match.');
    await wrapper.get('[data-testid="login-confirm-password"]').setValue('my own password');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(client.auth.renewPassword).toHaveBeenCalledWith({ username: 'ann', password: 'abcd-efgh-jkmn-pqrs', newPassword: 'my own password' });
  });

  it('says the account is disabled, in the reader’s language', async () => {
    client.auth.login.mockRejectedValueOnce(ApiError.of('ACCOUNT_DISABLED'));
    const { wrapper } = mountWithApp(LoginView, { locale: 'zh-CN' });
    await wrapper.get('[data-testid="login-username"]').setValue('ann');
    await wrapper.get('[data-testid="login-password"]').setValue('correct password');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="login-error"]').text()).toBe('你的账号已被管理员停用。');
  });
});
