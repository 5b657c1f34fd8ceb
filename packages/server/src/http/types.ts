/** The largest request body accepted on any route: 16 KB. */
export const MAX_BODY_BYTES: number = 16 * 1024;

/**
 * Reads request headers by name, case-insensitively: the web platform's `Headers` is one, and the Node
 * host passes a lighter view of `IncomingMessage.headers` with the same `get`.
 */
export interface HeaderReader {
  get(name: string): string | null;
}

/** A request body as the routes see it: bytes, a body a host framework already parsed, or none. */
export type RequestBody =
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'parsed'; value: unknown }
  | { kind: 'none' };

/** A request as the routes see it, whatever host it came from. */
export interface HttpRequest {
  /** Upper case (`GET`, `POST`, …). */
  method: string;
  /** The path below the mount prefix, without the query string (e.g. `/auth/login`). */
  path: string;
  query: URLSearchParams;
  headers: HeaderReader;
  /** The client address: the peer, or the right-most untrusted `X-Forwarded-For` entry behind trusted proxies. */
  ip: string;
  /** Read before the route runs, within {@link MAX_BODY_BYTES}. */
  body: RequestBody;
}

/** A response as the routes build it; hosts write it out (or the web entry makes a `Response` of it). */
export interface HttpResponse {
  status: number;
  /** Lower-case names. `set-cookie` may be a list. */
  headers: Record<string, string | string[]>;
  /** A complete body, or a stream (server-sent events). */
  body?: string | ReadableStream<Uint8Array>;
}
