import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from './presence-store.js';

describe('MemoryPresenceStore', () => {
  it('reports a transition only for the first connection and the last disconnection', async () => {
    const store = new MemoryPresenceStore();
    expect(await store.connect('u', 'c1')).toEqual({ becameOnline: true });
    expect(await store.connect('u', 'c2')).toEqual({ becameOnline: false });
    expect(await store.online(['u', 'v'])).toEqual(new Set(['u']));
    expect(await store.disconnect('u', 'c1')).toEqual({ becameOffline: false });
    expect(await store.disconnect('u', 'c2')).toEqual({ becameOffline: true });
    expect(await store.online(['u'])).toEqual(new Set());
    expect(store.size).toBe(0);
  });

  it('ignores unknown and repeated disconnects', async () => {
    const store = new MemoryPresenceStore();
    expect(await store.disconnect('u', 'c1')).toEqual({ becameOffline: false });
    await store.connect('u', 'c1');
    expect(await store.disconnect('u', 'c1')).toEqual({ becameOffline: true });
    expect(await store.disconnect('u', 'c1')).toEqual({ becameOffline: false });
    expect(store.size).toBe(0);
  });
});
