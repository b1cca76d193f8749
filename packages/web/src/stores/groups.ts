import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { CreateGroupRequest, GroupJoinRequest, GroupMember, UpdateGroupRequest } from '@kkchat/protocol';
import { getClient } from '../sdk';
import { useConversationsStore } from './conversations';

/**
 * Group members, join requests and actions. Summaries (name, role, announcement, membership) live in the
 * conversations store like every conversation; this store refreshes them when a `group.updated` arrives.
 */
export const useGroupsStore = defineStore('groups', () => {
  const members = ref<Record<string, GroupMember[]>>({});
  const requests = ref<Record<string, GroupJoinRequest[]>>({});
  /** Every name seen per group, kept after a member leaves so their old messages still show who wrote them. */
  const knownNames = ref<Record<string, Record<string, string>>>({});
  /** Senders whose accounts were deleted (their messages show "Deleted user"). */
  const deletedUsers = ref(new Set<string>());
  /** Senders already looked up once (found or not), so a page of messages asks about each at most once. */
  const lookedUp = new Set<string>();

  function reset(): void {
    members.value = {};
    requests.value = {};
    knownNames.value = {};
    deletedUsers.value = new Set();
    lookedUp.clear();
  }

  function isDeleted(userId: string): boolean {
    return deletedUsers.value.has(userId);
  }

  /**
   * Looks up senders the group's member list does not name (members who left, deleted accounts), once each.
   * Someone the server will not show (a disabled account) stays "Someone".
   */
  async function learnNames(conversationId: string, userIds: readonly string[]): Promise<void> {
    const names = (knownNames.value[conversationId] ??= {});
    const missing = [...new Set(userIds)].filter((id) => names[id] === undefined && !deletedUsers.value.has(id) && !lookedUp.has(id));
    for (const id of missing) {
      lookedUp.add(id);
      try {
        const user = await getClient().users.get(id);
        if (user.deleted) deletedUsers.value = new Set([...deletedUsers.value, id]);
        else names[id] = user.displayName || user.username;
      } catch {
        // Not visible to us: keep the generic name.
      }
    }
  }

  /** Display names of the members we know, for system messages, sender labels and mentions. */
  function nameOf(conversationId: string, userId: string): string | null {
    return knownNames.value[conversationId]?.[userId] ?? null;
  }

  async function loadMembers(conversationId: string): Promise<void> {
    const list = await getClient().groups.members(conversationId);
    members.value[conversationId] = list;
    const names = (knownNames.value[conversationId] ??= {});
    for (const member of list) names[member.user.id] = member.user.displayName || member.user.username;
  }

  async function loadRequests(conversationId: string): Promise<void> {
    requests.value[conversationId] = await getClient().groups.requests(conversationId);
  }

  async function refreshSummary(conversationId: string): Promise<void> {
    const summary = await getClient().conversations.get(conversationId);
    useConversationsStore().upsertSummary(summary);
  }

  /** A group changed (or we were added): refetch its summary, and its members when we show them. */
  async function applyGroupUpdated(conversationId: string): Promise<void> {
    await refreshSummary(conversationId);
    const summary = useConversationsStore().summaries[conversationId];
    if (members.value[conversationId] && summary?.group?.membership === 'active') await loadMembers(conversationId);
    if (requests.value[conversationId] && summary?.group?.role !== 'member') await loadRequests(conversationId).catch(() => undefined);
  }

  async function applyGroupRemoved(conversationId: string): Promise<void> {
    // The member list stays (as it was) so the read-only history keeps showing names.
    delete requests.value[conversationId];
    await refreshSummary(conversationId);
  }

  /** A new group (name, optional description and avatar file id, friends to start with); returns its id. */
  async function create(request: CreateGroupRequest): Promise<string> {
    const summary = await getClient().groups.create(request);
    useConversationsStore().upsertSummary(summary);
    return summary.id;
  }

  async function update(conversationId: string, changes: UpdateGroupRequest): Promise<void> {
    useConversationsStore().upsertSummary(await getClient().groups.update(conversationId, changes));
  }

  /** Runs a member action, then reloads the member list. */
  async function act(conversationId: string, action: () => Promise<unknown>): Promise<void> {
    await action();
    await loadMembers(conversationId);
  }

  const client = () => getClient().groups;
  return {
    members,
    requests,
    reset,
    nameOf,
    isDeleted,
    learnNames,
    loadMembers,
    loadRequests,
    refreshSummary,
    applyGroupUpdated,
    applyGroupRemoved,
    create,
    update,
    invite: (id: string, userIds: string[]) => client().invite(id, userIds).then(async (result) => (await loadMembers(id), result)),
    remove: (id: string, userId: string) => act(id, () => client().remove(id, userId)),
    setRole: (id: string, userId: string, role: 'admin' | 'member') => act(id, () => client().setRole(id, userId, role)),
    mute: (id: string, userId: string, until: number | null) => act(id, () => client().mute(id, userId, until)),
    transfer: (id: string, userId: string) => act(id, async () => (await client().transfer(id, userId), refreshSummary(id))),
    leave: async (id: string) => (await client().leave(id), refreshSummary(id)),
    dismiss: async (id: string) => (await client().dismiss(id), refreshSummary(id)),
    approve: async (id: string, requestId: string) => (await client().approve(id, requestId), loadRequests(id), loadMembers(id)),
    reject: async (id: string, requestId: string) => (await client().reject(id, requestId), loadRequests(id)),
  };
});
