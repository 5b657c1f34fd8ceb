const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The hosts service routes answer by default: the issuer's host name, plus the loopback names
 * (`localhost`, `127.0.0.1`, `[::1]`) when the issuer is on loopback. Entries without a port match any
 * port.
 * @example
 * defaultAllowedHosts('http://127.0.0.1:4000'); // ['127.0.0.1', 'localhost', '[::1]']
 */
export function defaultAllowedHosts(issuer: string): string[] {
  const host = new URL(issuer).hostname.toLowerCase();
  return LOOPBACK_NAMES.includes(host) ? [host, ...LOOPBACK_NAMES.filter((name) => name !== host)] : [host];
}

/**
 * Checks and normalizes `TESSERA_ALLOWED_HOSTS` entries: `name` or `name:port` (IPv6 in brackets).
 * Throws a `TypeError` naming a bad entry.
 */
export function parseAllowedHosts(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    const value = entry.trim().toLowerCase();
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(value)) {
      throw new TypeError(`"${entry}" is not a host name, with an optional port.`);
    }
    return value;
  });
}

function splitHost(value: string): { name: string; port: string | null } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(value.trim().toLowerCase());
  return { name: match?.[1] ?? '', port: match?.[2] || null };
}

/**
 * True when a request's `Host` header names an allowed host (a DNS-rebinding page reaches the server
 * under its own name, which is not on the list).
 */
export function isHostAllowed(hostHeader: string | null, allowed: readonly string[]): boolean {
  if (hostHeader === null) return false;
  const { name, port } = splitHost(hostHeader);
  if (name === '') return false;
  return allowed.some((entry) => {
    const wanted = splitHost(entry);
    return wanted.name === name && (wanted.port === null || wanted.port === port);
  });
}
