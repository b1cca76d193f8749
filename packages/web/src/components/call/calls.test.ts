import { beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';
import { createPinia, setActivePinia } from 'pinia';
import type { CallInfo, Message } from '@kkchat/protocol';
import { formatDuration, useCallStore } from '../../stores/call';
import { useConversationsStore } from '../../stores/conversations';
import { useSessionStore } from '../../stores/session';
import { buildSummary, buildUser, installFakeClient, type FakeClient } from '../../test-support/fake-client';
import { mountWithApp } from '../../test-support/mount';
import type { KKChatClient } from '../../sdk';
import CallOverlay from './CallOverlay.vue';
import CallRecord from './CallRecord.vue';

const me = buildUser('me');
const ann = buildUser('ann', { displayName: 'Ann Lee' });

function incoming(overrides: Partial<CallInfo> = {}): CallInfo {
  return {
    callId: 'k1',
    conversationId: 'c1',
    callerId: 'ann',
    calleeId: 'me',
    media: 'video',
    state: 'ringing',
    createdAt: 1000,
    ringUntil: 46_000,
    answeredAt: null,
    endedAt: null,
    outcome: null,
    ...overrides,
  };
}

function record(outcome: Extract<Message, { kind: 'call' }>['outcome'], media: 'audio' | 'video', durationMs = 0): Extract<Message, { kind: 'call' }> {
  return { id: 'm1', conversationId: 'c1', seq: 3, senderId: 'ann', clientMsgId: 'srv:1', createdAt: 1, kind: 'call', callId: 'k1', media, outcome, durationMs };
}

describe('call UI', () => {
  let client: FakeClient;
  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient(me);
    useSessionStore().user = me;
    useConversationsStore().replaceSummaries([buildSummary('c1', ann)]);
  });

  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65_000)).toBe('1:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
  });

  it('shows the incoming screen with accept and reject, and stops when answered elsewhere', async () => {
    const call = useCallStore();
    const unbind = call.bind(client as unknown as KKChatClient);
    const { wrapper } = mountWithApp(CallOverlay);
    client.emit('call.incoming', incoming());
    await nextTick();
    expect(wrapper.get('[data-testid="call-screen"]').attributes('data-phase')).toBe('incoming');
    expect(wrapper.get('[data-testid="call-peer-name"]').text()).toBe('Ann Lee');
    expect(wrapper.get('[data-testid="call-status"]').text()).toBe('Incoming video call');
    expect(wrapper.find('[data-testid="call-accept-audio"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="call-accept-video"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="call-reject"]').exists()).toBe(true);

    client.emit('call.answered_elsewhere', incoming());
    await nextTick();
    expect(wrapper.find('[data-testid="call-screen"]').exists()).toBe(false);
    expect(wrapper.get('[data-testid="call-notice"]').text()).toContain('Answered on another device.');
    unbind();
  });

  it('an unanswered incoming call that times out says it was missed; an audio call offers no video answer', async () => {
    const call = useCallStore();
    call.bind(client as unknown as KKChatClient);
    const { wrapper } = mountWithApp(CallOverlay);
    client.emit('call.incoming', incoming({ media: 'audio' }));
    await nextTick();
    expect(wrapper.find('[data-testid="call-accept-video"]').exists()).toBe(false);
    client.emit('call.ended', { call: incoming({ state: 'ended', outcome: 'missed' }), reason: 'timeout' });
    await nextTick();
    expect(call.phase).toBe('idle');
    expect(wrapper.get('[data-testid="call-notice"]').text()).toBe('You missed a call from Ann Lee.OK');
  });

  it('reject sends call.reject', async () => {
    const reject = vi.fn(async () => incoming({ state: 'ended', outcome: 'rejected' }));
    (client as unknown as { calls: object }).calls = { reject };
    const call = useCallStore();
    call.bind(client as unknown as KKChatClient);
    client.emit('call.incoming', incoming());
    await call.reject();
    expect(reject).toHaveBeenCalledWith('k1');
    expect(call.phase).toBe('idle');
  });

  it('ignores calls that are not this device\'s', async () => {
    const call = useCallStore();
    call.bind(client as unknown as KKChatClient);
    client.emit('call.ended', { call: incoming({ callId: 'other', state: 'ended', outcome: 'missed' }), reason: 'timeout' });
    client.emit('call.signal', { callId: 'other', signal: { kind: 'end-of-candidates' } });
    expect(call.phase).toBe('idle');
    expect(call.notice).toBeNull();
  });

  it('renders call records as text for every outcome, in English and Chinese', () => {
    const cases: [Parameters<typeof record>, string][] = [
      [['completed', 'video', 65_000], 'Video call · 1:05'],
      [['missed', 'audio'], 'Missed voice call'],
      [['rejected', 'video'], 'Declined video call'],
      [['cancelled', 'audio'], 'Cancelled voice call'],
      [['busy', 'audio'], 'Voice call · busy'],
      [['failed', 'video'], 'Video call · failed'],
    ];
    for (const [args, text] of cases) {
      const { wrapper } = mountWithApp(CallRecord, { props: { message: record(...args), mine: false, time: '10:00' } });
      expect(wrapper.get('.text').text()).toBe(text);
      expect(wrapper.get('[data-testid="call-record"]').attributes('data-outcome')).toBe(args[0]);
    }
    const { wrapper } = mountWithApp(CallRecord, { locale: 'zh-CN', props: { message: record('missed', 'video'), mine: false, time: '10:00' } });
    expect(wrapper.get('.text').text()).toBe('未接视频通话');
  });
});
