import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { Block, Contact, FriendRequest, Presence, UserPublic } from '@kkchat/protocol';
import { getClient } from '../sdk';

function byName(a: Contact, b: Contact): number {
  return a.user.displayName.localeCompare(b.user.displayName) || a.user.username.localeCompare(b.user.username);
}

/** Friends with their presence, friend requests both ways, and the block list; kept live by realtime.ts. */
export const useContactsStore = defineStore('contacts', () => {
  const contacts = ref<Contact[]>([]);
  const incoming = ref<FriendRequest[]>([]);
  const outgoing = ref<FriendRequest[]>([]);
  const blocks = ref<Block[]>([]);
  const loaded = ref(false);

  const byUserId = computed(() => new Map(contacts.value.map((contact) => [contact.user.id, contact])));
  const online = computed(() => contacts.value.filter((contact) => contact.presence.online));
  const offline = computed(() => contacts.value.filter((contact) => !contact.presence.online));
  const incomingCount = computed(() => incoming.value.length);

  function reset(): void {
    contacts.value = [];
    incoming.value = [];
    outgoing.value = [];
    blocks.value = [];
    loaded.value = false;
  }

  async function loadRequests(): Promise<void> {
    const requests = await getClient().contacts.requests();
    incoming.value = requests.incoming.filter((request) => request.status === 'pending');
    outgoing.value = requests.outgoing.filter((request) => request.status === 'pending');
  }

  async function loadBlocks(): Promise<void> {
    blocks.value = await getClient().contacts.blocks();
  }

  async function load(): Promise<void> {
    const client = getClient();
    const [list] = await Promise.all([client.contacts.list(), loadRequests(), loadBlocks()]);
    contacts.value = [...list].sort(byName);
    loaded.value = true;
  }

  // ---- live updates ----
  function applyPresence(userId: string, presence: Presence): void {
    const contact = byUserId.value.get(userId);
    if (contact) contact.presence = { online: presence.online, lastSeenAt: presence.lastSeenAt };
  }

  /** A request was created or changed state: keep only pending ones, on the side the viewer is on. */
  function applyFriendRequest(request: FriendRequest, myId: string): void {
    incoming.value = incoming.value.filter((r) => r.id !== request.id);
    outgoing.value = outgoing.value.filter((r) => r.id !== request.id);
    if (request.status !== 'pending') return;
    if (request.to.id === myId) incoming.value = [request, ...incoming.value];
    else if (request.from.id === myId) outgoing.value = [request, ...outgoing.value];
  }

  function applyContactAdded(contact: Contact): void {
    contacts.value = [...contacts.value.filter((c) => c.user.id !== contact.user.id), contact].sort(byName);
    // The friendship settles any request between the two, whichever side sent it.
    const isPair = (r: FriendRequest) => r.from.id === contact.user.id || r.to.id === contact.user.id;
    incoming.value = incoming.value.filter((r) => !isPair(r));
    outgoing.value = outgoing.value.filter((r) => !isPair(r));
  }

  function applyContactRemoved(userId: string): void {
    contacts.value = contacts.value.filter((c) => c.user.id !== userId);
  }

  function applyUserUpdated(user: UserPublic): void {
    const contact = byUserId.value.get(user.id);
    if (contact) {
      contact.user = user;
      contacts.value = [...contacts.value].sort(byName);
    }
    for (const request of [...incoming.value, ...outgoing.value]) {
      if (request.from.id === user.id) request.from = user;
      if (request.to.id === user.id) request.to = user;
    }
  }

  // ---- actions ----
  async function sendRequest(userId: string, note?: string): Promise<FriendRequest> {
    const request = await getClient().contacts.sendRequest(userId, note);
    outgoing.value = [request, ...outgoing.value.filter((r) => r.id !== request.id)];
    return request;
  }

  async function accept(requestId: string): Promise<Contact> {
    const result = await getClient().contacts.accept(requestId);
    incoming.value = incoming.value.filter((r) => r.id !== requestId);
    applyContactAdded(result.contact);
    return result.contact;
  }

  async function reject(requestId: string): Promise<void> {
    await getClient().contacts.reject(requestId);
    incoming.value = incoming.value.filter((r) => r.id !== requestId);
  }

  async function cancel(requestId: string): Promise<void> {
    await getClient().contacts.cancel(requestId);
    outgoing.value = outgoing.value.filter((r) => r.id !== requestId);
  }

  async function remove(userId: string): Promise<void> {
    await getClient().contacts.remove(userId);
    applyContactRemoved(userId);
  }

  /**
   * Blocking stops messages and requests but the server keeps the friendship (unblocking restores it), and it
   * closes pending requests; reload all three lists rather than guess.
   */
  async function block(userId: string): Promise<void> {
    await getClient().contacts.block(userId);
    await load();
  }

  async function unblock(userId: string): Promise<void> {
    await getClient().contacts.unblock(userId);
    blocks.value = blocks.value.filter((b) => b.user.id !== userId);
    await load();
  }

  return {
    contacts,
    incoming,
    outgoing,
    blocks,
    loaded,
    byUserId,
    online,
    offline,
    incomingCount,
    reset,
    load,
    loadRequests,
    loadBlocks,
    applyPresence,
    applyFriendRequest,
    applyContactAdded,
    applyContactRemoved,
    applyUserUpdated,
    sendRequest,
    accept,
    reject,
    cancel,
    remove,
    block,
    unblock,
  };
});
