import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { TesseraError } from '@tessera/core';
import { errorResponse } from './error-response.ts';
import { type HttpRequest, type HttpResponse, MAX_BODY_BYTES } from './types.ts';

/**
 * Reads a Node request body up to `limit` bytes. Throws `payload_too_large` as soon as the declared
 * or received length passes the limit (the rest is not buffered).
 */
export async function readNodeBody(
  message: IncomingMessage,
  limit: number = MAX_BODY_BYTES,
): Promise<Buffer> {
  const declared = Number(message.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    message.resume();
    throw new TesseraError('payload_too_large', `The request body must be at most ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      message.resume();
      throw new TesseraError('payload_too_large', `The request body must be at most ${limit} bytes.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Lower-cases and flattens Node headers (repeated headers joined with `, `, cookies with `; `). */
export function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  return out;
}

/**
 * Builds an {@link HttpRequest} from a Node request. `parsedBody` is a body a host framework's parser
 * already consumed; otherwise the raw body is read here with the size limit. Returns an error
 * response instead when the body is too large.
 */
export async function toHttpRequest(
  message: IncomingMessage,
  path: string,
  ip: string,
  parsedBody: { value: unknown } | null,
): Promise<HttpRequest | HttpResponse> {
  const url = new URL(message.url ?? '/', 'http://host');
  let body: HttpRequest['body'] = { kind: 'none' };
  if (parsedBody) {
    body = { kind: 'parsed', value: parsedBody.value };
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

/** Writes an {@link HttpResponse} to a Node response (streams piped, others ended). */
export function writeNodeResponse(res: ServerResponse, response: HttpResponse, head = false): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  if (head || response.body === undefined) {
    res.end();
  } else if (response.body instanceof Readable) {
    const stream = response.body;
    // A long-lived stream (server-sent events) ends when the client goes away.
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  } else {
    res.end(response.body);
  }
}
