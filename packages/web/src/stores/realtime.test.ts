import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { bindRealtime } from './realtime';
import { useSessionStore } from './session';
import { useContactsStore } from './contacts';
import { useConversationsStore } from './conversations';
import { useUiStore } from './ui';
import { buildMessage, buildRemoved, buildSummary, buildUser, installFakeClient, type FakeClient } from '../test-support/fake-client';
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

  it('says why: disabled, deleted, signed out or reset by an administrator', () => {
    const cases: [string, { code: number; reason: string } | { code: string | null }, string][] = [
      ['session.revoked', { code: 4005, reason: 'account_disabled' }, 'auth.accountDisabled'],
      ['session.revoked', { code: 4006, reason: 'account_deleted' }, 'auth.accountDeleted'],
      ['session.revoked', { code: 4003, reason: 'admin_signout' }, 'auth.adminSignedOut'],
      ['session.revoked', { code: 4003, reason: 'password_reset' }, 'auth.passwordReset'],
      ['auth.expired', { code: 'ACCOUNT_DISABLED' }, 'auth.accountDisabled'],
      ['auth.expired', { code: null }, 'auth.signedOut'],
    ];
    for (const [event, payload, notice] of cases) {
      setActivePinia(createPinia());
      const fake = installFakeClient(me);
      const session = useSessionStore();
      session.user = me;
      bindRealtime(fake as unknown as KKChatClient);
      fake.emit(event as 'auth.expired', payload as never);
      expect(session.notice, `${event} ${JSON.stringify(payload)}`).toBe(notice);
    }
  });

  it('a role change arrives live; a removed message becomes a tombstone', () => {
    const session = useSessionStore();
    const conversations = useConversationsStore();
    bindRealtime(client as unknown as KKChatClient);
    client.emit('account.updated', { role: 'admin' });
    expect(session.isAdmin).toBe(true);
    conversations.replaceSummaries([buildSummary('c1', ann, { lastSeq: 2, readSeq: 2 })]);
    conversations.messages.c1 = [buildMessage('c1', 1, 'ann'), buildMessage('c1', 2, 'ann')];
    client.conversations.get.mockResolvedValue(buildSummary('c1', ann, { lastSeq: 2, readSeq: 2 }));
    client.emit('message.removed', buildRemoved('c1', 2, 'ann'));
    expect(conversations.messages.c1!.map((m) => m.kind)).toEqual(['text', 'removed']);
  });
});
