import { describe, expect, it } from 'vitest';
import { clientAddressOf, trustPredicate } from './client-address.js';

describe('client address under KKCHAT_TRUST_PROXY', () => {
  const address = (trust: boolean | number | string, peer: string, forwardedFor?: string) => clientAddressOf(peer, forwardedFor, trustPredicate(trust));

  it('false: the socket peer, whatever the header says', () => {
    expect(address(false, '127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
  });

  it('a hop count trusts that many hops nearest the server (one nginx: its X-Forwarded-For entry)', () => {
    expect(address(1, '127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    // A client that adds its own entry in front of nginx's gains nothing: nginx appends the real address.
    expect(address(1, '127.0.0.1', '6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
    expect(address(2, '127.0.0.1', '198.51.100.4, 10.0.0.2')).toBe('198.51.100.4');
    expect(address(1, '127.0.0.1')).toBe('127.0.0.1');
  });

  it('addresses and CIDRs: only a listed peer is believed', () => {
    expect(address('127.0.0.1', '127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    // A client that connects directly cannot name another address.
    expect(address('127.0.0.1', '198.51.100.7', '203.0.113.9')).toBe('198.51.100.7');
    expect(address('10.0.0.0/8, ::1', '10.1.2.3', '203.0.113.9')).toBe('203.0.113.9');
    expect(address('10.0.0.0/8, ::1', '::1', '203.0.113.9')).toBe('203.0.113.9');
    // An IPv4 peer seen on a dual-stack socket matches its IPv4 entry.
    expect(address('127.0.0.1', '::ffff:127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    // Two listed proxies in a row: the first unlisted address from the right is the client.
    expect(address('10.0.0.0/8', '10.0.0.1', '6.6.6.6, 203.0.113.9, 10.0.0.2')).toBe('203.0.113.9');
  });

  it('true: the leftmost entry', () => {
    expect(address(true, '127.0.0.1', '203.0.113.9, 10.0.0.2')).toBe('203.0.113.9');
  });

  it('refuses entries that are not addresses or CIDRs', () => {
    expect(() => trustPredicate('1.2.3')).toThrow('"1.2.3" is not an IPv4/IPv6 address or CIDR');
    expect(() => trustPredicate('10.0.0.0/33')).toThrow('10.0.0.0/33');
  });
});
