import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Which hops of a request may be believed about the client's address (KKCHAT_TRUST_PROXY), as one rule for the
 * HTTP API and the WebSocket gateway. The chain is read from the server outwards: the socket's peer first, then
 * the X-Forwarded-For entries from right to left; the client is the first address not trusted (or the leftmost
 * entry when every hop is trusted).
 *
 * - `false`: nothing is trusted; the client is the socket's peer.
 * - `true`: every hop is trusted; the client is the leftmost X-Forwarded-For entry (only behind a proxy that
 *   overwrites the header).
 * - a hop count `n`: the n hops nearest the server are trusted, whoever they are. A client that reaches a node
 *   directly can then name any address, so prefer the proxies' addresses when nodes are reachable.
 * - addresses and CIDRs: a hop is trusted when its address is one of them (the safe form).
 */
export type TrustProxy = boolean | number | string;
export type TrustPredicate = (address: string, hop: number) => boolean;

/** Compiles KKCHAT_TRUST_PROXY; throws on an entry that is not an IPv4/IPv6 address or CIDR. */
export function trustPredicate(value: TrustProxy): TrustPredicate {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  const list = new BlockList();
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address = '', prefix] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    const bits = prefix === undefined ? null : Number(prefix);
    if (!type || (bits !== null && !(Number.isInteger(bits) && bits >= 0 && bits <= (type === 'ipv4' ? 32 : 128)))) {
      throw new Error(`"${entry}" is not an IPv4/IPv6 address or CIDR`);
    }
    if (bits === null) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return (address) => {
    const plain = unmapped(address);
    if (isIPv4(plain)) return list.check(plain, 'ipv4');
    return isIPv6(plain) && list.check(plain, 'ipv6');
  };
}

/** The client's address from the socket's peer and the X-Forwarded-For header, under `trust`. */
export function clientAddressOf(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: TrustPredicate): string {
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const chain = [peer ?? 'unknown', ...header.split(',').map((s) => s.trim()).filter(Boolean).reverse()];
  for (let hop = 0; hop < chain.length - 1; hop++) {
    if (!trust(chain[hop]!, hop)) return chain[hop]!;
  }
  return chain[chain.length - 1]!;
}

/** "::ffff:127.0.0.1" (an IPv4 peer on a dual-stack socket) as "127.0.0.1", for matching the trusted list. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
