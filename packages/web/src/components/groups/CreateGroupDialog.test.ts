import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { ConversationSummary, CreateGroupRequest, FileInfo } from '@kkchat/protocol';
import CreateGroupDialog from './CreateGroupDialog.vue';
import AvatarCropper from '../files/AvatarCropper.vue';
import { mountWithApp } from '../../test-support/mount';
import { buildUser, installFakeClient } from '../../test-support/fake-client';
import { useContactsStore } from '../../stores/contacts';
import { useConversationsStore } from '../../stores/conversations';

const avatarFile: FileInfo = { id: 'f-avatar', name: 'avatar.png', size: 900, mime: 'image/png', sha256: 'x', width: 512, height: 512, thumbnail: { width: 320, height: 320 } };

function summaryOf(request: CreateGroupRequest): ConversationSummary {
  return {
    id: 'g1',
    kind: 'group',
    group: {
      name: request.name,
      description: request.description ?? '',
      avatar: request.avatar ?? '',
      announcement: '',
      joinMode: 'approval',
      memberLimit: 2000,
      mutedAll: false,
      ownerId: 'me',
      memberCount: 1 + request.memberIds.length,
      role: 'owner',
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

/** The dialog as `me` with one friend, over a client whose group creation and uploads are recorded. */
function setup(locale: 'en' | 'zh-CN' = 'en') {
  const fake = installFakeClient(buildUser('me'));
  const groups = { create: vi.fn(async (request: CreateGroupRequest) => summaryOf(request)) };
  const files = { upload: vi.fn(async (_body: Blob, _options: unknown) => avatarFile) };
  Object.assign(fake, { groups, files });
  useContactsStore().contacts = [{ user: buildUser('ann', { displayName: 'Ann' }), conversationId: 'c-ann', since: 1, presence: { online: false, lastSeenAt: null } }];
  const mounted = mountWithApp(CreateGroupDialog, { locale });
  return { ...mounted, groups, files };
}

/** Picks an image and saves the crop (the cropper draws on a canvas, which happy-dom has not got: its result is given). */
async function pickPicture(wrapper: VueWrapper, square: Blob): Promise<void> {
  const input = wrapper.get('[data-testid="create-group-avatar-file"]');
  Object.defineProperty(input.element, 'files', { value: [new File([new Uint8Array([1, 2, 3])], 'team.jpg', { type: 'image/jpeg' })], configurable: true });
  await input.trigger('change');
  const cropper = wrapper.getComponent(AvatarCropper);
  expect(cropper.props('source').name).toBe('team.jpg');
  cropper.vm.$emit('cropped', square);
  await flushPromises();
}

describe('CreateGroupDialog', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('creates a group with a description and the cropped picture uploaded as an avatar, then opens it', async () => {
    const { wrapper, router, groups, files } = setup();
    const square = new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' });
    expect(wrapper.find('[data-testid="create-group-picture"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="create-group-avatar"]').text()).toBe('Add picture');
    await pickPicture(wrapper, square);
    expect(wrapper.find('[data-testid="avatar-cropper"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="create-group-picture"]').attributes('src')).toMatch(/^blob:/);
    expect(wrapper.get('[data-testid="create-group-avatar"]').text()).toBe('Change picture');
    // Nothing is uploaded before the group is created.
    expect(files.upload).not.toHaveBeenCalled();

    await wrapper.get('[data-testid="create-group-name"]').setValue('  Climbers ');
    await wrapper.get('[data-testid="create-group-description"]').setValue(' Saturday mornings at the gym ');
    await wrapper.get('[data-testid="create-group-pick-ann"]').setValue(true);
    await wrapper.get('form').trigger('submit');
    await flushPromises();

    expect(files.upload).toHaveBeenCalledTimes(1);
    expect(files.upload.mock.calls[0]![0]).toBe(square);
    expect(files.upload.mock.calls[0]![1]).toMatchObject({ purpose: 'avatar' });
    expect(groups.create).toHaveBeenCalledWith({ name: 'Climbers', description: 'Saturday mornings at the gym', avatar: 'f-avatar', memberIds: ['ann'] });
    expect(useConversationsStore().summaries.g1?.group).toMatchObject({ description: 'Saturday mornings at the gym', avatar: 'f-avatar' });
    expect(router.currentRoute.value.fullPath).toBe('/chat/g1');
    expect(wrapper.emitted('close')).toHaveLength(1);
  });

  it('leaves out the description and avatar when none is given, and a removed picture is not uploaded', async () => {
    const { wrapper, groups, files } = setup();
    await pickPicture(wrapper, new Blob([new Uint8Array([1])], { type: 'image/png' }));
    await wrapper.get('[data-testid="create-group-avatar-remove"]').trigger('click');
    expect(wrapper.find('[data-testid="create-group-picture"]').exists()).toBe(false);
    await wrapper.get('[data-testid="create-group-name"]').setValue('Plain');
    await wrapper.get('[data-testid="create-group-description"]').setValue('   ');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(files.upload).not.toHaveBeenCalled();
    expect(groups.create).toHaveBeenCalledWith({ name: 'Plain', memberIds: [] });
  });

  it('keeps the dialog and the uploaded picture when creating fails; the second try does not upload again', async () => {
    const { wrapper, groups, files } = setup();
    groups.create.mockRejectedValueOnce(Object.assign(new Error('limit'), { code: 'RATE_LIMITED' }));
    await pickPicture(wrapper, new Blob([new Uint8Array([1])], { type: 'image/png' }));
    await wrapper.get('[data-testid="create-group-name"]').setValue('Again');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(wrapper.emitted('close')).toBeUndefined();
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect(files.upload).toHaveBeenCalledTimes(1);
    expect(groups.create).toHaveBeenLastCalledWith({ name: 'Again', avatar: 'f-avatar', memberIds: [] });
    expect(wrapper.emitted('close')).toHaveLength(1);
  });

  it('speaks Chinese', () => {
    const { wrapper } = setup('zh-CN');
    expect(wrapper.text()).toContain('群介绍');
    expect(wrapper.get('[data-testid="create-group-avatar"]').text()).toBe('添加头像');
    expect(wrapper.get('[data-testid="create-group-description"]').attributes('placeholder')).toBe('介绍一下这个群（选填）');
  });
});
