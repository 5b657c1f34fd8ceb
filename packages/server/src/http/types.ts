import type { Readable } from 'node:stream';

/** A request as every framework adapter hands it to the shared routes. */
export interface HttpRequest {
  method: string;
  /** The path below the mount prefix, without the query string (e.g. `/auth/login`). */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The client address, as the host framework determined it (proxy settings included). */
  ip: string;
  /** The raw body (adapters enforce the size limit), or a body a host framework already parsed. */
  body: { kind: 'raw'; bytes: Buffer } | { kind: 'parsed'; value: unknown } | { kind: 'none' };
}

/** A response the adapters write back unchanged. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** A complete body, or a stream (server-sent events). */
  body?: string | Readable;
}

/** The largest request body accepted on any route: 16 KB. */
export const MAX_BODY_BYTES: number = 16 * 1024;
