import { BlockList, isIP } from 'node:net';

/**
 * Which proxies in front of Tessera are trusted to write `X-Forwarded-For`: none (the peer address is
 * the client), a number of hops (that many proxies, each appending the address it saw), or the
 * addresses and CIDR ranges (IPv4 and IPv6) of the proxies.
 */
export type TrustProxy = { hops: number } | { cidrs: readonly string[] } | null;

/** How the client address of a request is worked out: a function of the peer and `X-Forwarded-For`. */
export type ClientIpResolver = (peer: string, forwardedFor: string | null) => string;

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** An address as Tessera stores and compares it: IPv4-mapped IPv6 as plain IPv4, zone and brackets dropped. */
export function normalizeIp(address: string): string {
  let text = address.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  return MAPPED_V4.exec(text)?.[1] ?? text.toLowerCase();
}

/**
 * Reads `TESSERA_TRUST_PROXY`-style text: `false`/`0`/empty (no proxy), a hop count (`1`, `2`, …), or
 * a comma-separated list of addresses and CIDRs. `true` is read as one hop (deprecated: it used to
 * trust every hop). Throws a `TypeError` naming what is wrong.
 * @example
 * parseTrustProxy('2'); // { hops: 2 }
 * parseTrustProxy('10.0.0.0/8, fd00::/8'); // { cidrs: ['10.0.0.0/8', 'fd00::/8'] }
 */
export function parseTrustProxy(text: string): TrustProxy {
  const value = text.trim().toLowerCase();
  if (value === '' || value === 'false' || value === '0') return null;
  if (value === 'true') return { hops: 1 };
  if (/^\d{1,2}$/.test(value)) return { hops: Number(value) };
  const cidrs = value.split(',').map((part) => part.trim());
  buildBlockList(cidrs);
  return { cidrs };
}

function buildBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefixText, extra] = cidr.split('/');
    const ip = normalizeIp(address);
    const family = isIP(ip);
    const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
    if (
      family === 0 ||
      extra !== undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (family === 6 ? 128 : 32)
    ) {
      throw new TypeError(`"${cidr}" is not an IP address or CIDR range.`);
    }
    list.addSubnet(ip, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

function contains(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The resolver for `trust`. The chain is the `X-Forwarded-For` entries followed by the peer; the client
 * is, with hops, the entry that many places from the right, and with CIDRs the right-most address that
 * is not a trusted proxy. Entries the client wrote itself (left of what the trusted proxies appended) are
 * never chosen, so `X-Forwarded-For: 127.0.0.1, …` cannot make a caller look local. A chain shorter than
 * the hop count, or a malformed entry where the client should be, falls back to the left-most readable
 * address the trusted part reaches.
 * @example
 * createClientIpResolver({ hops: 1 })('10.0.0.2', '127.0.0.1, 203.0.113.7'); // '203.0.113.7'
 */
export function createClientIpResolver(trust: TrustProxy): ClientIpResolver {
  if (trust === null) return (peer) => normalizeIp(peer);
  const list = 'cidrs' in trust ? buildBlockList(trust.cidrs) : null;
  return (peer, forwardedFor) => {
    const chain = [
      ...(forwardedFor === null ? [] : forwardedFor.split(',').map(normalizeIp)),
      ...(peer === '' ? [] : [normalizeIp(peer)]),
    ];
    if (list === null) {
      const hops = (trust as { hops: number }).hops;
      // The peer is the nearest proxy (without one, the last entry stands for it, as hosts such as
      // Next.js append the socket address themselves); each trusted proxy appended the address it saw.
      const start = chain.length - 1 - hops;
      for (let i = Math.max(0, start); i < chain.length; i += 1) {
        const candidate = chain[i] as string;
        if (isIP(candidate) !== 0) return candidate;
      }
      return normalizeIp(peer);
    }
    for (let i = chain.length - 1; i >= 0; i -= 1) {
      const candidate = chain[i] as string;
      if (isIP(candidate) === 0) return chain[i + 1] ?? normalizeIp(peer);
      if (!contains(list, candidate)) return candidate;
    }
    return chain[0] ?? normalizeIp(peer);
  };
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)$/;

/** True for a loopback address (127.0.0.0/8, ::1, and their IPv4-mapped forms). */
export function isLoopback(address: string): boolean {
  return LOOPBACK.test(normalizeIp(address));
}
