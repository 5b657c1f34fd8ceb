/** Request headers as web `Headers` or as Node's lower-cased header object. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What a request tells about the URL it was sent to. */
export interface RequestUrlParts {
  headers: HeaderSource;
  /** A web `Request`'s absolute URL, or the path and query a Node server received. */
  url?: string | undefined;
  /** Express and Koa keep the path as received here, before a mounted router rewrote `url`. */
  originalUrl?: string | undefined;
  /** Node's socket: TLS when it is `encrypted`. */
  socket?: object | undefined;
}

/** Where requests reach this service from, as configured on the verifier. */
export interface PublicUrlOptions {
  /** The origin (and path prefix a proxy strips, if any) clients address, without a trailing slash. */
  publicUrl: string | null;
  /** Read `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host` (set only behind a proxy that overwrites them). */
  trustForwardedHeaders: boolean;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name];
  return typeof value === 'string' ? value : value?.[0];
}

/** The first hop's value of a comma-separated forwarding header (the proxy nearest the client). */
const first = (value: string | undefined): string | undefined => value?.split(',')[0]?.trim() || undefined;

/** `proto` and `host` of the first element of an RFC 7239 `Forwarded` header. */
function forwarded(value: string | undefined): { proto?: string; host?: string } {
  const out: { proto?: string; host?: string } = {};
  for (const pair of first(value)?.split(';') ?? []) {
    const [name, raw] = pair.split('=', 2).map((part) => part.trim());
    const text = raw?.replace(/^"(.*)"$/, '$1');
    if (name?.toLowerCase() === 'proto' && text) out.proto = text;
    if (name?.toLowerCase() === 'host' && text) out.host = text;
  }
  return out;
}

/**
 * The URL a client addressed (what its DPoP proof's `htu` names, RFC 9449 §4.3): `publicUrl` plus the
 * request's path when configured; else, with `trustForwardedHeaders`, the scheme and host a proxy
 * forwarded; else the request's own (a web `Request`'s URL, or the `Host` header and the socket's
 * TLS for Node). `null` when it cannot be told (no path, no host).
 */
export function resolveRequestUrl(parts: RequestUrlParts, options: PublicUrlOptions): string | null {
  const received = parts.originalUrl ?? parts.url;
  if (!received) return null;
  let path = received;
  let own: URL | null = null;
  if (!received.startsWith('/')) {
    try {
      own = new URL(received);
    } catch {
      return null;
    }
    path = `${own.pathname}${own.search}`;
  }
  if (options.publicUrl !== null) return `${options.publicUrl}${path}`;
  const fwd = options.trustForwardedHeaders ? forwarded(header(parts.headers, 'forwarded')) : {};
  const proto =
    fwd.proto ??
    (options.trustForwardedHeaders ? first(header(parts.headers, 'x-forwarded-proto')) : undefined) ??
    own?.protocol.slice(0, -1) ??
    ((parts.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http');
  const host =
    fwd.host ??
    (options.trustForwardedHeaders ? first(header(parts.headers, 'x-forwarded-host')) : undefined) ??
    own?.host ??
    header(parts.headers, 'host');
  if (!host || !/^https?$/i.test(proto)) return null;
  return `${proto.toLowerCase()}://${host}${path}`;
}
