import { isIPv4, isIPv6 } from 'node:net';

/** Expands an IPv6 address (no zone) into its eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let text = address;
  // A trailing dotted quad (::ffff:192.0.2.1) is the last two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => Number.parseInt(group, 16));
}

/**
 * The client a per-IP rate limit counts: an IPv4 address as is; an IPv6 address by its /64 (one
 * subscriber's prefix: a client rotating through its own addresses is still one client); an IPv4-mapped
 * IPv6 address (`::ffff:192.0.2.1`) as its IPv4 address. Anything else (no address, not an IP) is
 * counted under one key per distinct value, cut to 64 characters.
 */
export function rateLimitClientKey(ip: string | null | undefined): string {
  if (typeof ip !== 'string' || !ip) return '-';
  const address = ip.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIPv4(address)) return address;
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) return `?${address.slice(0, 64)}`;
  const groups = ipv6Groups(bare);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
