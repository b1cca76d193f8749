/**
 * The one place the web app creates and reaches the SDK. Everything talks to the server through
 * `@kkchat/client`; tests install a fake with `setClient`.
 */
import { KKChatClient } from '@kkchat/client';

export { ApiError, KKChatClient } from '@kkchat/client';
export type { OutboxEntry } from '@kkchat/client';

export type ConnectionState = KKChatClient['state'];

let instance: KKChatClient | null = null;

/**
 * The app-wide client: same origin, refresh token kept by the server in an httpOnly cookie. The server names the
 * device in the session list from the browser's User-Agent.
 */
export function getClient(): KKChatClient {
  instance ??= new KKChatClient({ baseUrl: '', cookieMode: true });
  return instance;
}

/** Replaces the client (component tests pass a fake). */
export function setClient(client: KKChatClient | null): void {
  instance = client;
}
