import type { KKChatClient } from '../sdk';
import { useCallStore } from './call';
import { useContactsStore } from './contacts';
import { useConversationsStore } from './conversations';
import { useGroupsStore } from './groups';
import { noticeForClose, noticeForExpiry, useSessionStore } from './session';
import { useUiStore } from './ui';

/**
 * Routes the SDK's live events into the stores. Returns a function that removes every subscription, so a
 * sign-out never leaves handlers writing into a fresh session.
 */
export function bindRealtime(client: KKChatClient): () => void {
  const session = useSessionStore();
  const contacts = useContactsStore();
  const conversations = useConversationsStore();
  const groups = useGroupsStore();
  const ui = useUiStore();
  const myId = () => session.user?.id ?? client.user?.id ?? '';

  const subscriptions = [
    client.on('state', (state) => session.setConnection(state)),
    client.on('message', (message) => conversations.applyMessage(message)),
    client.on('read', (event) => conversations.applyRead(event)),
    client.on('typing', (event) => conversations.applyTyping(event)),
    client.on('presence', (event) =>
      contacts.applyPresence(event.userId, { online: event.online, lastSeenAt: event.lastSeenAt }),
    ),
    client.on('friend.request', (request) => contacts.applyFriendRequest(request, myId())),
    client.on('contact.added', (contact) => {
      contacts.applyContactAdded(contact);
      // The new friendship comes with a conversation; list it.
      void conversations.load().catch(() => undefined);
    }),
    client.on('contact.removed', (event) => contacts.applyContactRemoved(event.userId)),
    client.on('user.updated', (user) => {
      session.updateUser(user);
      contacts.applyUserUpdated(user);
      conversations.applyUserUpdated(user);
    }),
    client.on('group.updated', (event) => void groups.applyGroupUpdated(event.conversationId).catch(() => undefined)),
    client.on('group.removed', (event) => void groups.applyGroupRemoved(event.conversationId).catch(() => undefined)),
    client.on('outbox', (entry) => conversations.applyOutbox(entry)),
    client.on('conversations', (list) => conversations.replaceSummaries(list)),
    client.on('synced', () => {
      // Presence and requests may have changed while we were away; the SDK replays messages itself.
      void contacts.load().catch(() => undefined);
    }),
    // Retention removed messages the SDK could not replay: say so rather than show a silent gap.
    client.on('history.unavailable', () => ui.toastKey('chat.historyGone')),
    client.on('error', (error) => {
      // Errors not tied to a call; only a rate limit is something the user can act on (slow down).
      if (error.code === 'RATE_LIMITED') ui.toastKey('errors.RATE_LIMITED', 'error', error.message);
    }),
    client.on('message.removed', (message) => conversations.applyRemoved(message)),
    client.on('account.updated', (event) => session.setRole(event.role)),
    // Say why: signed out elsewhere, by an administrator, or the account was disabled or deleted.
    client.on('session.revoked', (event) => session.clear(noticeForClose(event.code, event.reason))),
    client.on('auth.expired', (event) => session.clear(noticeForExpiry(event?.code ?? null))),
  ];
  // Calls have their own store (stores/call.ts), which owns the media of a call.
  subscriptions.push(useCallStore().bind(client));
  return () => {
    for (const unsubscribe of subscriptions) unsubscribe();
  };
}
