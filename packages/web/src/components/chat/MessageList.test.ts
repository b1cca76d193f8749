import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import MessageList from './MessageList.vue';
import { mountWithApp } from '../../test-support/mount';
import { buildMessage } from '../../test-support/fake-client';
import type { OutboxEntry } from '../../sdk';

function mountList(overrides: Record<string, unknown> = {}) {
  return mountWithApp(MessageList, {
    props: {
      messages: [],
      pending: [],
      myId: 'me',
      peerReadSeq: 0,
      hasMore: false,
      loadingOlder: false,
      historyGone: false,
      typingName: null,
      unreadFrom: null,
      loadOlder: async () => 0,
      ...overrides,
    },
  }).wrapper;
}

describe('MessageList', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('renders markup in messages as text, never as HTML', () => {
    const wrapper = mountList({
      messages: [
        buildMessage('c1', 1, 'peer', '<img src=x onerror=alert(1)>'),
        buildMessage('c1', 2, 'peer', '<a href="javascript:alert(1)">x</a> [open](javascript:alert(1))'),
      ],
    });
    expect(wrapper.find('img').exists()).toBe(false);
    expect(wrapper.findAll('a')).toHaveLength(0);
    expect(wrapper.text()).toContain('<img src=x onerror=alert(1)>');
  });

  it('links http(s) URLs with a safe rel and target', () => {
    const wrapper = mountList({ messages: [buildMessage('c1', 1, 'peer', 'see www.example.com now')] });
    const link = wrapper.get('a');
    expect(link.attributes()).toMatchObject({
      href: 'https://www.example.com/',
      target: '_blank',
      rel: 'noopener noreferrer nofollow',
    });
  });

  it('puts one "Read" receipt under my newest message the peer has read', () => {
    const wrapper = mountList({
      messages: [buildMessage('c1', 1, 'me'), buildMessage('c1', 2, 'me'), buildMessage('c1', 3, 'peer'), buildMessage('c1', 4, 'me')],
      peerReadSeq: 3,
    });
    const receipts = wrapper.findAll('[data-testid="read-receipt"]');
    expect(receipts).toHaveLength(1);
    const bubbles = wrapper.findAll('[data-testid="message"]');
    expect(bubbles.map((b) => b.attributes('data-seq'))).toEqual(['1', '2', '3', '4']);
    // The receipt sits in the line of seq 2.
    expect(bubbles[1]!.element.parentElement!.querySelector('[data-testid="read-receipt"]')).not.toBeNull();
  });

  it('shows pending entries after stored messages with their state, and retry on failure', async () => {
    const failed: OutboxEntry = {
      clientMsgId: 'x1',
      conversationId: 'c1',
      text: 'did not go',
      kind: 'text',
      state: 'failed',
      attempts: 3,
      error: { code: 'RATE_LIMITED', message: 'Too many requests; slow down.' },
      createdAt: Date.now(),
    };
    const sending: OutboxEntry = { ...failed, clientMsgId: 'x2', text: 'on its way', state: 'sending', error: undefined };
    const wrapper = mountList({ messages: [buildMessage('c1', 1, 'peer')], pending: [failed, sending] });
    const states = wrapper.findAll('[data-testid="message"]').map((b) => b.attributes('data-state'));
    expect(states).toEqual(['sent', 'failed', 'sending']);
    expect(wrapper.text()).toContain('You are going too fast');
    await wrapper.get('[data-testid="message-retry"]').trigger('click');
    expect(wrapper.emitted('retry')).toEqual([[failed]]);
  });

  it('puts the "New messages" divider before the first unread message from the peer', () => {
    const wrapper = mountList({
      messages: [buildMessage('c1', 1, 'peer'), buildMessage('c1', 2, 'me'), buildMessage('c1', 3, 'peer')],
      unreadFrom: 2,
    });
    const order = wrapper.findAll('[data-testid="message"], [data-testid="unread-divider"]').map((el) => el.attributes('data-seq') ?? 'divider');
    expect(order).toEqual(['1', '2', 'divider', '3']);
  });

  it('shows the typing indicator with the name', () => {
    const wrapper = mountList({ typingName: 'Ann' });
    expect(wrapper.get('[data-testid="typing-indicator"]').text()).toContain('Ann is typing');
  });
});
