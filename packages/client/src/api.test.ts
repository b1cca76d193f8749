import { describe, expect, it, vi } from 'vitest';
import { KKChatClient } from './client.js';

describe('path segments', () => {
  it('refuses ids that would move up the URL path, without a request', async () => {
    const fetch = vi.fn();
    const client = new KKChatClient({ baseUrl: 'http://127.0.0.1:9', fetch: fetch as unknown as typeof globalThis.fetch });
    for (const id of ['..', '.', '']) {
      await expect(client.users.get(id)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(fetch).not.toHaveBeenCalled();
  });
});
