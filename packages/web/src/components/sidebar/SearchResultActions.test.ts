import { beforeEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { FriendRequest, Relationship } from '@kkchat/protocol';
import SearchResultActions from './SearchResultActions.vue';
import { mountWithApp } from '../../test-support/mount';
import { buildUser, installFakeClient, type FakeClient } from '../../test-support/fake-client';
import { useContactsStore } from '../../stores/contacts';

const me = buildUser('me');
const ann = buildUser('ann');

function mountFor(relationship: Relationship) {
  return mountWithApp(SearchResultActions, { props: { result: { user: ann, relationship } } }).wrapper;
}

describe('SearchResultActions', () => {
  let client: FakeClient;
  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient(me);
  });

  it('offers the action that fits each relationship', () => {
    expect(mountFor('none').find('[data-testid="add-friend-ann"]').exists()).toBe(true);
    expect(mountFor('request_sent').get('[data-testid="pending-ann"]').text()).toBe('Pending');
    expect(mountFor('request_received').find('[data-testid="search-accept-ann"]').exists()).toBe(true);
    expect(mountFor('blocked').find('[data-testid="search-unblock-ann"]').exists()).toBe(true);
    expect(mountFor('friend').find('[data-testid="search-message-ann"]').exists()).toBe(true);
    expect(mountFor('self').text()).toBe('You');
  });

  it('sends a request with the optional note and reports the new relationship', async () => {
    const request: FriendRequest = { id: 'r1', from: me, to: ann, note: 'hi', status: 'pending', createdAt: 1, updatedAt: 1 };
    client.contacts.sendRequest.mockResolvedValueOnce(request);
    const wrapper = mountFor('none');
    await wrapper.get('[data-testid="add-friend-ann"]').trigger('click');
    await wrapper.get('[data-testid="request-note-ann"]').setValue('  hi  ');
    await wrapper.get('[data-testid="send-request-ann"]').trigger('click');
    await flushPromises();
    expect(client.contacts.sendRequest).toHaveBeenCalledWith('ann', 'hi');
    expect(wrapper.emitted('changed')).toEqual([['ann', 'request_sent']]);
    expect(useContactsStore().outgoing).toEqual([request]);
  });

  it('accepts the pending incoming request from that user', async () => {
    const contacts = useContactsStore();
    contacts.incoming = [{ id: 'r9', from: ann, to: me, note: '', status: 'pending', createdAt: 1, updatedAt: 1 }];
    client.contacts.accept.mockResolvedValueOnce({
      request: { ...contacts.incoming[0]!, status: 'accepted' },
      contact: { user: ann, conversationId: 'c1', since: 1, presence: { online: true, lastSeenAt: null } },
    });
    const wrapper = mountFor('request_received');
    await wrapper.get('[data-testid="search-accept-ann"]').trigger('click');
    await flushPromises();
    expect(client.contacts.accept).toHaveBeenCalledWith('r9');
    expect(wrapper.emitted('changed')).toEqual([['ann', 'friend']]);
    expect(contacts.contacts.map((c) => c.user.id)).toEqual(['ann']);
  });
});
