import { TesseraError } from '@tessera/core';
import { type HeaderReader, MAX_BODY_BYTES, type RequestBody } from './types.ts';

/**
 * A request as a host hands it to the handler's core, before routing: cheap to build (nothing is read
 * or parsed until a route needs it), so the Node hosts need not build a web `Request` first.
 */
export interface Incoming {
  /** Upper case. */
  method: string;
  /** The request path, not decoded, without the query. */
  pathname: string;
  /** The query string with its `?`, or ''. */
  search: string;
  headers: HeaderReader;
  /** The socket peer's address ('' when the host does not know it). */
  peer: string;
  /** Reads the body within {@link MAX_BODY_BYTES}; throws `payload_too_large`. Called at most once. */
  readBody(): Promise<RequestBody>;
}

/** What a host already knows about a request besides the request itself. */
export interface HostRequestInfo {
  /** The socket peer's address (`req.socket.remoteAddress`); '' or absent when the host cannot tell. */
  ip?: string;
  /**
   * A body the host's own parser already consumed (`express.json()`, a Koa body parser, Fastify's
   * buffer parser): bytes or text are read as if Tessera had read them, an object is used as is.
   */
  parsedBody?: { value: unknown };
}

/** The 413 error. */
export function tooLarge(limit: number = MAX_BODY_BYTES): TesseraError {
  return new TesseraError('payload_too_large', `The request body must be at most ${limit} bytes.`);
}

/** Splits a request target (`/path?query`, or absolute-form) into its path and query; never throws. */
export function splitTarget(target: string): { pathname: string; search: string } {
  if (target.startsWith('/') && !target.startsWith('//')) {
    const q = target.indexOf('?');
    const hash = target.indexOf('#');
    const end = hash >= 0 ? hash : target.length;
    return q >= 0 && q < end
      ? { pathname: target.slice(0, q), search: target.slice(q, end) }
      : { pathname: target.slice(0, end), search: '' };
  }
  // `//x` must stay a path, never a host; absolute-form and `*` go through the URL parser.
  try {
    const url = target.startsWith('/') ? new URL(`http://host${target}`) : new URL(target, 'http://host');
    return { pathname: url.pathname, search: url.search };
  } catch {
    // A target the URL parser refuses (`http://[bad/`) routes nowhere: the handler answers 400.
    return { pathname: MALFORMED_PATH, search: '' };
  }
}

/** The path {@link splitTarget} gives a request target it cannot read (no route is ever there). */
export const MALFORMED_PATH = '\u0000malformed';

function parsedSize(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'string') return Buffer.byteLength(value);
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return 0;
  }
}

/**
 * A body a host parser produced, within the 16 KB limit (its declared `Content-Length`, else its size
 * as bytes, text or JSON). Bytes and text become a raw body Tessera validates itself.
 */
export function parsedBody(value: unknown, declaredLength: string | null): RequestBody {
  const declared = Number(declaredLength ?? Number.NaN);
  const size = declaredLength !== null && Number.isFinite(declared) ? declared : parsedSize(value);
  if (size > MAX_BODY_BYTES) throw tooLarge();
  if (value instanceof Uint8Array) return { kind: 'raw', bytes: value };
  if (typeof value === 'string') return { kind: 'raw', bytes: Buffer.from(value) };
  return { kind: 'parsed', value };
}

/** Throws `payload_too_large` when `Content-Length` says the body is over the limit. */
export function checkDeclaredLength(declaredLength: string | null): void {
  if (declaredLength === null) return;
  const declared = Number(declaredLength);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge();
}

/**
 * Reads a web body stream up to {@link MAX_BODY_BYTES}: stops reading (and cancels the stream) as
 * soon as the received length passes it, so an endless body is never buffered.
 */
export async function readWebBody(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

/**
 * Translates the error a host framework's body reading raised (a body parser before Tessera, Fastify's
 * own limit) into Tessera's: 413 `payload_too_large`, 415 `unsupported_media_type`, any other 4xx
 * `invalid_request`. Returns `null` for anything else (not a client error: the host handles it).
 * @example
 * const error = hostBodyError(err); // err from express.json(): { status: 400, type: 'entity.parse.failed' }
 */
export function hostBodyError(error: unknown): TesseraError | null {
  if (typeof error !== 'object' || error === null) return null;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || code < 400 || code >= 500) return null;
  if (code === 413) return tooLarge();
  if (code === 415) return new TesseraError('unsupported_media_type', 'The content type is not supported.');
  return new TesseraError('invalid_request', 'The request body is malformed.');
}
