import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { ConversationSummary, GroupMember, GroupRole } from '@kkchat/protocol';
import GroupPanel from './GroupPanel.vue';
import { mountWithApp } from '../../test-support/mount';
import { buildUser, installFakeClient } from '../../test-support/fake-client';
import { useGroupsStore } from '../../stores/groups';
import { useSessionStore } from '../../stores/session';

const XSS = '<img src=x onerror=alert(1)>';

function member(id: string, role: GroupRole, displayName = id.toUpperCase()): GroupMember {
  return { user: buildUser(id, { displayName }), role, joinedAt: 1, mutedUntil: null, presence: { online: false, lastSeenAt: null } };
}

function groupSummary(role: GroupRole): ConversationSummary {
  return {
    id: 'g1',
    kind: 'group',
    group: {
      name: 'Team',
      description: '',
      avatar: '',
      announcement: '',
      joinMode: 'approval',
      memberLimit: 2000,
      mutedAll: false,
      ownerId: 'own',
      memberCount: 4,
      role,
      membership: 'active',
      mutedUntil: null,
      dismissedAt: null,
      createdAt: 1,
    },
    lastSeq: 1,
    readSeq: 1,
    peerReadSeq: 0,
    unreadCount: 0,
    lastMessage: null,
    updatedAt: 1,
  };
}

/** The panel as `me` with the given role, among an owner, an admin and a member whose name is markup. */
async function panelAs(role: GroupRole, description = '') {
  setActivePinia(createPinia());
  const fake = installFakeClient(buildUser('me'));
  Object.assign(fake, {
    groups: {
      inviteLink: vi.fn(async () => null),
      requests: vi.fn(async () => []),
      members: vi.fn(async () => []),
    },
  });
  useSessionStore().user = buildUser('me');
  useGroupsStore().members.g1 = [member('own', 'owner'), member('adm', 'admin'), member('mem', 'member', XSS), member('me', role)];
  const summary = groupSummary(role);
  summary.group!.description = description;
  const { wrapper } = mountWithApp(GroupPanel, { props: { summary } });
  await flushPromises();
  return wrapper;
}

describe('GroupPanel', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
  });

  it('offers the owner role changes and removal of admins and members, and dismissal', async () => {
    const wrapper = await panelAs('owner');
    expect(wrapper.find('[data-testid="make-admin-mem"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="remove-adm"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="remove-mem"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="group-settings"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="group-dismiss"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="group-leave"]').exists()).toBe(false);
  });

  it('lets an admin act on members only, and a member on nobody', async () => {
    const admin = await panelAs('admin');
    expect(admin.find('[data-testid="remove-mem"]').exists()).toBe(true);
    expect(admin.find('[data-testid="remove-adm"]').exists()).toBe(false);
    expect(admin.find('[data-testid="remove-own"]').exists()).toBe(false);
    expect(admin.find('[data-testid="make-admin-mem"]').exists()).toBe(false);
    expect(admin.find('[data-testid="group-leave"]').exists()).toBe(true);

    const plain = await panelAs('member');
    expect(plain.findAll('[data-testid^="remove-"]')).toHaveLength(0);
    expect(plain.findAll('[data-testid^="mute-"]')).toHaveLength(0);
    expect(plain.find('[data-testid="group-settings"]').exists()).toBe(false);
  });

  it('shows a name made of markup as text (BR-27)', async () => {
    const wrapper = await panelAs('member');
    expect(wrapper.find('img').exists()).toBe(false);
    expect(wrapper.get('[data-testid="group-member-mem"]').text()).toContain(XSS);
  });

  it('shows every member the group description, as text', async () => {
    const wrapper = await panelAs('member', `Saturday climbs ${XSS}`);
    expect(wrapper.get('[data-testid="group-description"]').text()).toBe(`Saturday climbs ${XSS}`);
    expect(wrapper.find('img').exists()).toBe(false);
    const without = await panelAs('member');
    expect(without.find('[data-testid="group-description"]').exists()).toBe(false);
  });
});
