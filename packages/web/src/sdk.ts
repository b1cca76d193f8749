/**
 * The one place the web app creates and reaches the SDK. Everything talks to the server through
 * `@kkchat/client`; tests install a fake with `setClient`.
 */
import { KKChatClient } from '@kkchat/client';

export { ApiError, KKChatClient } from '@kkchat/client';
export type { OutboxEntry } from '@kkchat/client';

export type ConnectionState = KKChatClient['state'];

let instance: KKChatClient | null = null;

/** A short, human label for this browser, shown in the device list of Settings. */
export function deviceName(userAgent = typeof navigator === 'undefined' ? '' : navigator.userAgent): string {
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : 'Browser';
  const os = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad|iPod/.test(userAgent)
      ? 'iOS'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}

/** The app-wide client: same origin, refresh token kept by the server in an httpOnly cookie. */
export function getClient(): KKChatClient {
  instance ??= new KKChatClient({ baseUrl: '', cookieMode: true, deviceName: deviceName() });
  return instance;
}

/** Replaces the client (component tests pass a fake). */
export function setClient(client: KKChatClient | null): void {
  instance = client;
}
