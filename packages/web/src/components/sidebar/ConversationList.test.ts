import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import ConversationList from './ConversationList.vue';
import { mountWithApp } from '../../test-support/mount';
import { buildMessage, buildSummary, buildUser, installFakeClient } from '../../test-support/fake-client';
import { useConversationsStore } from '../../stores/conversations';
import { useSessionStore } from '../../stores/session';

describe('ConversationList', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    installFakeClient(buildUser('me'));
  });

  it('lists conversations newest first with preview, unread badge and live updates', async () => {
    useSessionStore().user = buildUser('me');
    const store = useConversationsStore();
    const ann = buildUser('ann', { displayName: 'Ann' });
    const bo = buildUser('bo', { displayName: 'Bo' });
    store.replaceSummaries([
      buildSummary('c1', ann, { lastSeq: 1, lastMessage: buildMessage('c1', 1, 'me', 'see you\nsoon') }),
      buildSummary('c2', bo, { lastSeq: 5, unreadCount: 2, lastMessage: buildMessage('c2', 5, 'bo', 'new news') }),
    ]);
    const { wrapper } = mountWithApp(ConversationList);
    const items = () => wrapper.findAll('[data-testid^="conversation-"]');
    expect(items().map((i) => i.attributes('data-testid'))).toEqual(['conversation-bo', 'conversation-ann']);
    expect(wrapper.get('[data-testid="unread-bo"]').text()).toBe('2');
    expect(wrapper.find('[data-testid="unread-ann"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="conversation-ann"]').text()).toContain('You: see you');

    store.applyMessage({ ...buildMessage('c1', 2, 'ann', 'hello again'), createdAt: Date.now() });
    await wrapper.vm.$nextTick();
    expect(items()[0]!.attributes('data-testid')).toBe('conversation-ann');
    expect(wrapper.get('[data-testid="unread-ann"]').text()).toBe('1');
    expect(wrapper.get('[data-testid="conversation-ann"]').text()).toContain('hello again');
  });
});
