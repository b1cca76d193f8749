import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import type { Contact, FriendRequest } from '@kkchat/protocol';
import { useContactsStore } from './contacts';
import { buildUser, installFakeClient } from '../test-support/fake-client';

const me = buildUser('me');
const ann = buildUser('ann', { displayName: 'Ann' });

function request(id: string, from = ann, to = me, status: FriendRequest['status'] = 'pending'): FriendRequest {
  return { id, from, to, note: '', status, createdAt: 1, updatedAt: 1 };
}

function contact(user = ann, online = false): Contact {
  return { user, conversationId: `c-${user.id}`, since: 1, presence: { online, lastSeenAt: online ? null : 5 } };
}

describe('contacts store', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    installFakeClient(me);
  });

  it('files pending requests by direction and drops answered ones', () => {
    const store = useContactsStore();
    store.applyFriendRequest(request('r1'), me.id);
    store.applyFriendRequest(request('r2', me, ann), me.id);
    expect(store.incoming.map((r) => r.id)).toEqual(['r1']);
    expect(store.outgoing.map((r) => r.id)).toEqual(['r2']);
    expect(store.incomingCount).toBe(1);
    store.applyFriendRequest(request('r1', ann, me, 'rejected'), me.id);
    store.applyFriendRequest(request('r2', me, ann, 'cancelled'), me.id);
    expect(store.incoming).toEqual([]);
    expect(store.outgoing).toEqual([]);
  });

  it('adds a contact, settles requests between the pair, and follows presence', () => {
    const store = useContactsStore();
    store.applyFriendRequest(request('r1'), me.id);
    store.applyContactAdded(contact());
    expect(store.incoming).toEqual([]);
    expect(store.offline.map((c) => c.user.id)).toEqual(['ann']);
    store.applyPresence('ann', { online: true, lastSeenAt: null });
    expect(store.online.map((c) => c.user.id)).toEqual(['ann']);
    store.applyUserUpdated({ ...ann, displayName: 'Ann B.' });
    expect(store.contacts[0]!.user.displayName).toBe('Ann B.');
    store.applyContactRemoved('ann');
    expect(store.contacts).toEqual([]);
  });
});
