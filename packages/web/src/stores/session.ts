import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AccountRole, AuthResult, UserPublic } from '@kkchat/protocol';
import { getClient, type ConnectionState } from '../sdk';
import { bindRealtime } from './realtime';
import { useContactsStore } from './contacts';
import { useConversationsStore } from './conversations';
import { useGroupsStore } from './groups';
import { useFilesStore } from './files';

/** Why the user landed on the login page without asking to: shown there as a notice (an i18n key). */
export type SignOutNotice =
  | 'auth.signedOut'
  | 'auth.sessionRevoked'
  | 'auth.accountDisabled'
  | 'auth.accountDeleted'
  | 'auth.adminSignedOut'
  | 'auth.passwordReset';

/** The notice for a socket the server closed for good (close code and reason, see docs/protocol.md). */
export function noticeForClose(code: number, reason: string): SignOutNotice {
  if (code === 4005) return 'auth.accountDisabled';
  if (code === 4006) return 'auth.accountDeleted';
  if (reason === 'admin_signout') return 'auth.adminSignedOut';
  if (reason === 'password_reset') return 'auth.passwordReset';
  return 'auth.sessionRevoked';
}

/** The notice for a session that ended on a request (the SDK's auth.expired code). */
export function noticeForExpiry(code: string | null): SignOutNotice {
  if (code === 'ACCOUNT_DISABLED') return 'auth.accountDisabled';
  if (code === 'ACCOUNT_DELETED') return 'auth.accountDeleted';
  return 'auth.signedOut';
}

/**
 * Who is signed in and how the live connection is doing. Owns the start and end of a signed-in session: it
 * connects the SDK, wires its events into the other stores and loads the first data.
 */
export const useSessionStore = defineStore('session', () => {
  const user = ref<UserPublic | null>(null);
  /** The account's role; `admin` shows the admin area. */
  const role = ref<AccountRole>('user');
  const connection = ref<ConnectionState>('idle');
  /** Set once the first `online` arrives, so the banner does not flash during the very first connect. */
  const hasBeenOnline = ref(false);
  const restored = ref(false);
  const notice = ref<SignOutNotice | null>(null);
  let unbind: (() => void) | null = null;
  let restoring: Promise<boolean> | null = null;

  const isSignedIn = computed(() => user.value !== null);
  const isAdmin = computed(() => isSignedIn.value && role.value === 'admin');
  const showReconnecting = computed(
    () => hasBeenOnline.value && (connection.value === 'reconnecting' || connection.value === 'connecting'),
  );

  function setConnection(state: ConnectionState): void {
    connection.value = state;
    if (state === 'online') hasBeenOnline.value = true;
  }

  /** Loads what the main screen needs and opens the live connection. */
  async function start(auth: AuthResult): Promise<void> {
    const client = getClient();
    user.value = auth.user;
    role.value = auth.role;
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
        if (auth) await start(auth);
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
    await start(await getClient().auth.login({ username, password }));
  }

  /** Sign-in that replaces a password an administrator set (login answered PASSWORD_CHANGE_REQUIRED). */
  async function renewPassword(username: string, password: string, newPassword: string): Promise<void> {
    await start(await getClient().auth.renewPassword({ username, password, newPassword }));
  }

  async function register(username: string, password: string, displayName?: string): Promise<void> {
    await start(await getClient().auth.register({ username, password, ...(displayName ? { displayName } : {}) }));
  }

  function setRole(next: AccountRole): void {
    role.value = next;
  }

  /** Drops all signed-in state locally (after logout, revocation or expiry). */
  function clear(reason: SignOutNotice | null): void {
    unbind?.();
    unbind = null;
    getClient().disconnect();
    user.value = null;
    role.value = 'user';
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
    role,
    isAdmin,
    connection,
    hasBeenOnline,
    restored,
    notice,
    isSignedIn,
    showReconnecting,
    setConnection,
    restore,
    login,
    renewPassword,
    register,
    setRole,
    logout,
    clear,
    updateUser,
  };
});
