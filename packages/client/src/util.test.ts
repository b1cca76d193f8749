import { afterEach, describe, expect, it, vi } from 'vitest';
import { newClientMsgId, webSocketUrl } from './util.js';
import { ClientMsgIdSchema } from '@kkchat/protocol';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('webSocketUrl', () => {
  it('derives ws:// and wss:// from the base URL, keeping a path prefix', () => {
    expect(webSocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/ws');
    expect(webSocketUrl('https://chat.example.com/')).toBe('wss://chat.example.com/ws');
    expect(webSocketUrl('https://example.com/kkchat/?x=1')).toBe('wss://example.com/kkchat/ws');
  });

  it('resolves "" and relative paths against the page location', () => {
    vi.stubGlobal('location', new URL('https://chat.example.com/conversations/c1'));
    expect(webSocketUrl('')).toBe('wss://chat.example.com/ws');
    expect(webSocketUrl('/kkchat')).toBe('wss://chat.example.com/kkchat/ws');
  });

  it('explains itself without a location', () => {
    expect(() => webSocketUrl('')).toThrow(/needs a browser location/);
  });
});

describe('newClientMsgId', () => {
  it('makes ids the protocol accepts, also without crypto.randomUUID', () => {
    expect(ClientMsgIdSchema.safeParse(newClientMsgId()).success).toBe(true);
    vi.stubGlobal('crypto', { getRandomValues: (bytes: Uint8Array) => bytes.fill(7) });
    const fallback = newClientMsgId();
    expect(fallback).toMatch(/^[0-9a-f]{32}$/);
    expect(ClientMsgIdSchema.safeParse(fallback).success).toBe(true);
  });
});
