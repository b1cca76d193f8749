import type { Session } from '@kkchat/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { api, registerUser, startServer, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * KKCHAT_TRUST_PROXY decides which X-Forwarded-For entries the server believes, by one rule for the API and the
 * WebSocket gateway (http/client-address.ts). What a user sees of it: the address listed for each signed-in device.
 */
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function signedInAddress(trustProxy: string, forwardedFor: string): Promise<string> {
  const server = await startServer({ KKCHAT_TRUST_PROXY: trustProxy });
  servers.push(server);
  const user: User = await registerUser(server.url, 'tp');
  const login = await api<{ accessToken: string }>(server.url, 'POST', '/auth/login', {
    body: { username: user.user.username, password: user.password },
    headers: { 'x-forwarded-for': forwardedFor },
  });
  expect(login.status).toBe(200);
  const sessions = await api<{ sessions: Session[] }>(server.url, 'GET', '/auth/sessions', { token: login.body.accessToken });
  return sessions.body.sessions.find((s) => s.current)!.ip;
}

describe('KKCHAT_TRUST_PROXY', () => {
  it('a hop count believes the entry the proxy appended (one nginx: 1)', async () => {
    expect(await signedInAddress('1', '6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
  });

  it("the proxy's address: believed only from that peer", async () => {
    expect(await signedInAddress('127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    expect(await signedInAddress('10.0.0.0/8', '203.0.113.9')).toBe('127.0.0.1');
  });

  it('false: the header is ignored', async () => {
    expect(await signedInAddress('false', '203.0.113.9')).toBe('127.0.0.1');
  });
});
