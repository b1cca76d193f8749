import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { bindRealtime } from './realtime';
import { useSessionStore } from './session';
import { useContactsStore } from './contacts';
import { useConversationsStore } from './conversations';
import { useUiStore } from './ui';
import { buildMessage, buildSummary, buildUser, installFakeClient, type FakeClient } from '../test-support/fake-client';
import type { KKChatClient } from '../sdk';

const me = buildUser('me');
const ann = buildUser('ann');

describe('bindRealtime', () => {
  let client: FakeClient;
  beforeEach(() => {
    setActivePinia(createPinia());
    client = installFakeClient(me);
    useSessionStore().user = me;
  });

  it('routes live events into the stores and stops on unbind', () => {
    const unbind = bindRealtime(client as unknown as KKChatClient);
    const session = useSessionStore();
    const contacts = useContactsStore();
    const conversations = useConversationsStore();

    client.emit('state', 'online');
    expect(session.hasBeenOnline).toBe(true);
    client.emit('state', 'reconnecting');
    expect(session.showReconnecting).toBe(true);

    client.emit('conversations', [buildSummary('c1', ann, { lastSeq: 1, readSeq: 1 })]);
    client.emit('message', buildMessage('c1', 2, 'ann'));
    expect(conversations.summaries.c1!.unreadCount).toBe(1);
    client.emit('read', { conversationId: 'c1', userId: 'ann', seq: 2 });
    expect(conversations.summaries.c1!.peerReadSeq).toBe(2);

    client.emit('friend.request', { id: 'r1', from: ann, to: me, note: '', status: 'pending', createdAt: 1, updatedAt: 1 });
    expect(contacts.incomingCount).toBe(1);
    client.emit('contact.added', { user: ann, conversationId: 'c1', since: 1, presence: { online: false, lastSeenAt: 1 } });
    expect(contacts.incomingCount).toBe(0);
    client.emit('presence', { userId: 'ann', online: true, lastSeenAt: null });
    expect(contacts.online.map((c) => c.user.id)).toEqual(['ann']);

    client.emit('history.unavailable', { conversationId: 'c1', fromSeq: 1, toSeq: 5 });
    expect(useUiStore().toasts.at(-1)?.key).toBe('chat.historyGone');

    unbind();
    client.emit('message', buildMessage('c1', 3, 'ann'));
    expect(conversations.summaries.c1!.unreadCount).toBe(1);
  });

  it('ends the signed-in session with a notice when the session is revoked', () => {
    const session = useSessionStore();
    bindRealtime(client as unknown as KKChatClient);
    client.emit('session.revoked', { code: 4003, reason: 'revoked' });
    expect(session.user).toBeNull();
    expect(session.notice).toBe('auth.sessionRevoked');
    expect(client.disconnect).toHaveBeenCalled();
  });
});
