import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { TesseraError } from '@tessera/core';
import { errorResponse } from './error-response.ts';
import { type HttpRequest, type HttpResponse, MAX_BODY_BYTES } from './types.ts';

function tooLarge(limit: number): TesseraError {
  return new TesseraError('payload_too_large', `The request body must be at most ${limit} bytes.`);
}

/**
 * Reads a Node request body up to `limit` bytes (default 16 KB). Throws `payload_too_large` as soon as
 * the declared or received length passes the limit (the rest is not buffered).
 * @example
 * const bytes = await readNodeBody(req);
 */
export async function readNodeBody(
  message: IncomingMessage,
  limit: number = MAX_BODY_BYTES,
): Promise<Buffer> {
  const declared = Number(message.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    message.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      message.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Lower-cases and flattens Node headers (repeated headers joined with `, `, cookies with `; `).
 * @example
 * flattenHeaders(req.headers).authorization; // 'Bearer eyJ…'
 */
export function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  return out;
}

/**
 * The path of a request target below `prefix`, or `null` when the target is not under it. A target
 * starting with `//` stays a path (it is never read as a host).
 * @example
 * pathBelowPrefix('/api/auth/login?x=1', '/api'); // '/auth/login'
 * pathBelowPrefix('/apix/auth/login', '/api'); // null
 */
export function pathBelowPrefix(target: string, prefix: string): string | null {
  const pathname = new URL(`http://host${target.startsWith('/') ? '' : '/'}${target}`).pathname;
  if (pathname === prefix) return '/';
  if (prefix !== '' && !pathname.startsWith(`${prefix}/`)) return null;
  return pathname.slice(prefix.length);
}

/** The byte size of a body a host parser produced: exact for bytes and text, its JSON otherwise. */
function parsedSize(value: unknown): number {
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value);
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return 0;
  }
}

/**
 * Builds an {@link HttpRequest} from a Node request. `parsedBody` is a body a host framework's parser
 * already consumed (`express.json()`, a Koa body parser): bytes or text (`express.raw()`,
 * `express.text()`, a Koa parser's `rawBody`) are validated by Tessera as if it had read them, a parsed
 * object is used as is. Otherwise the raw body is read here. Either way the 16 KB limit holds (for a
 * parsed object without `Content-Length`, measured on its JSON); past it the result is the 413 response.
 * @example
 * const request = await toHttpRequest(req, '/auth/login', req.socket.remoteAddress ?? '', null);
 * const response = 'status' in request ? request : await handler(request);
 */
export async function toHttpRequest(
  message: IncomingMessage,
  path: string,
  ip: string,
  parsedBody: { value: unknown } | null,
): Promise<HttpRequest | HttpResponse> {
  const url = new URL(`http://host${message.url ?? '/'}`);
  let body: HttpRequest['body'] = { kind: 'none' };
  if (parsedBody) {
    const declared = Number(message.headers['content-length']);
    const size = Number.isFinite(declared) ? declared : parsedSize(parsedBody.value);
    if (size > MAX_BODY_BYTES) return errorResponse(tooLarge(MAX_BODY_BYTES));
    const { value } = parsedBody;
    body =
      Buffer.isBuffer(value) || typeof value === 'string'
        ? { kind: 'raw', bytes: Buffer.isBuffer(value) ? value : Buffer.from(value) }
        : { kind: 'parsed', value };
  } else if (message.method !== 'GET' && message.method !== 'HEAD' && !message.readableEnded) {
    try {
      body = { kind: 'raw', bytes: await readNodeBody(message) };
    } catch (error) {
      return errorResponse(error);
    }
  }
  return {
    method: (message.method ?? 'GET').toUpperCase(),
    path,
    query: url.searchParams,
    headers: flattenHeaders(message.headers),
    ip,
    body,
  };
}

/**
 * Translates the error a host framework's body reading raised (a body parser before Tessera, Fastify's
 * own limit) into Tessera's: 413 `payload_too_large`, 415 `unsupported_media_type`, any other 4xx
 * `invalid_request`. Returns `null` for anything else (not a client error: the host handles it).
 * @example
 * const error = hostBodyError(err); // err from express.json(): { status: 400, type: 'entity.parse.failed' }
 * if (error) writeNodeResponse(res, errorResponse(error));
 */
export function hostBodyError(error: unknown): TesseraError | null {
  if (typeof error !== 'object' || error === null) return null;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || code < 400 || code >= 500) return null;
  if (code === 413) return tooLarge(MAX_BODY_BYTES);
  if (code === 415) return new TesseraError('unsupported_media_type', 'The content type is not supported.');
  return new TesseraError('invalid_request', 'The request body is malformed.');
}

/**
 * Writes an {@link HttpResponse} to a Node response: streams piped (and destroyed when the client
 * goes away), others ended. With `head`, only the headers go out, with the body's `Content-Length`.
 * @example
 * writeNodeResponse(res, await handler(request), req.method === 'HEAD');
 */
export function writeNodeResponse(res: ServerResponse, response: HttpResponse, head = false): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  if (response.body === undefined) {
    res.end();
  } else if (response.body instanceof Readable) {
    const stream = response.body;
    if (head) {
      stream.destroy();
      res.end();
      return;
    }
    // A long-lived stream (server-sent events) ends when the client goes away.
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  } else if (head) {
    res.setHeader('content-length', Buffer.byteLength(response.body));
    res.end();
  } else {
    res.end(response.body);
  }
}
