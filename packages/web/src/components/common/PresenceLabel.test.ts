import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import PresenceLabel from './PresenceLabel.vue';
import { mountWithApp } from '../../test-support/mount';
import { useUiStore } from '../../stores/ui';

describe('PresenceLabel', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('says online, or when the contact was last seen, in the chosen language', () => {
    const now = Date.UTC(2026, 0, 10, 12, 0, 0);
    useUiStore().now = now;
    const online = mountWithApp(PresenceLabel, { props: { presence: { online: true, lastSeenAt: null }, username: 'ann' } });
    expect(online.wrapper.text()).toBe('Online');
    expect(online.wrapper.attributes('data-online')).toBe('true');

    const away = mountWithApp(PresenceLabel, {
      props: { presence: { online: false, lastSeenAt: now - 5 * 60_000 }, username: 'ann' },
    });
    expect(away.wrapper.text()).toBe('Last seen 5 minutes ago');

    const zh = mountWithApp(PresenceLabel, {
      props: { presence: { online: false, lastSeenAt: now - 3 * 3600_000 }, username: 'ann' },
      locale: 'zh-CN',
    });
    expect(zh.wrapper.text()).toBe('最后在线 3小时前');

    const never = mountWithApp(PresenceLabel, { props: { presence: { online: false, lastSeenAt: null }, username: 'ann' } });
    expect(never.wrapper.text()).toBe('Offline');
  });
});
