/** A fresh client message id: a UUID, with a fallback for insecure browser contexts lacking randomUUID. */
export function newClientMsgId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The WebSocket address for a base URL: ws(s)://host[/prefix]/ws. '' (or a path such as '/chat') is resolved
 * against the page's location.
 */
export function webSocketUrl(baseUrl: string): string {
  const location = globalThis.location as Location | undefined;
  const isAbsolute = /^[a-z][a-z0-9+.-]*:/i.test(baseUrl);
  if (!isAbsolute && !location) throw new Error(`KKChatClient: baseUrl "${baseUrl}" needs a browser location`);
  const url = new URL(baseUrl || '/', isAbsolute ? undefined : location?.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws`;
  url.search = '';
  url.hash = '';
  return url.toString();
}
