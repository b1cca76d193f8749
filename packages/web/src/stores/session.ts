import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { UserPublic } from '@kkchat/protocol';
import { getClient, type ConnectionState } from '../sdk';
import { bindRealtime } from './realtime';
import { useContactsStore } from './contacts';
import { useConversationsStore } from './conversations';
import { useGroupsStore } from './groups';
import { useFilesStore } from './files';

/** Why the user landed on the login page without asking to: shown there as a notice (an i18n key). */
export type SignOutNotice = 'auth.signedOut' | 'auth.sessionRevoked';

/**
 * Who is signed in and how the live connection is doing. Owns the start and end of a signed-in session: it
 * connects the SDK, wires its events into the other stores and loads the first data.
 */
export const useSessionStore = defineStore('session', () => {
  const user = ref<UserPublic | null>(null);
  const connection = ref<ConnectionState>('idle');
  /** Set once the first `online` arrives, so the banner does not flash during the very first connect. */
  const hasBeenOnline = ref(false);
  const restored = ref(false);
  const notice = ref<SignOutNotice | null>(null);
  let unbind: (() => void) | null = null;
  let restoring: Promise<boolean> | null = null;

  const isSignedIn = computed(() => user.value !== null);
  const showReconnecting = computed(
    () => hasBeenOnline.value && (connection.value === 'reconnecting' || connection.value === 'connecting'),
  );

  function setConnection(state: ConnectionState): void {
    connection.value = state;
    if (state === 'online') hasBeenOnline.value = true;
  }

  /** Loads what the main screen needs and opens the live connection. */
  async function start(signedIn: UserPublic): Promise<void> {
    const client = getClient();
    user.value = signedIn;
    notice.value = null;
    unbind?.();
    unbind = bindRealtime(client);
    setConnection(client.state);
    // connect() settles when online or when the client closes for good; state events drive the UI either way.
    client.connect().catch(() => undefined);
    const contacts = useContactsStore();
    const conversations = useConversationsStore();
    await Promise.allSettled([contacts.load(), conversations.load()]);
  }

  /** Restores a session from the refresh cookie, once per page load. */
  function restore(): Promise<boolean> {
    restoring ??= (async () => {
      try {
        const auth = await getClient().auth.restore();
        if (auth) await start(auth.user);
        return auth !== null;
      } catch {
        return false;
      } finally {
        restored.value = true;
      }
    })();
    return restoring;
  }

  async function login(username: string, password: string): Promise<void> {
    const auth = await getClient().auth.login({ username, password });
    await start(auth.user);
  }

  async function register(username: string, password: string, displayName?: string): Promise<void> {
    const auth = await getClient().auth.register({ username, password, ...(displayName ? { displayName } : {}) });
    await start(auth.user);
  }

  /** Drops all signed-in state locally (after logout, revocation or expiry). */
  function clear(reason: SignOutNotice | null): void {
    unbind?.();
    unbind = null;
    getClient().disconnect();
    user.value = null;
    hasBeenOnline.value = false;
    connection.value = 'idle';
    notice.value = reason;
    useContactsStore().reset();
    useConversationsStore().reset();
    useGroupsStore().reset();
    useFilesStore().reset();
  }

  async function logout(): Promise<void> {
    try {
      await getClient().auth.logout();
    } finally {
      clear(null);
    }
  }

  function updateUser(next: UserPublic): void {
    if (user.value?.id === next.id) user.value = next;
  }

  return {
    user,
    connection,
    hasBeenOnline,
    restored,
    notice,
    isSignedIn,
    showReconnecting,
    setConnection,
    restore,
    login,
    register,
    logout,
    clear,
    updateUser,
  };
});
