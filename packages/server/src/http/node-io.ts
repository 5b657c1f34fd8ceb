import type { IncomingMessage, ServerResponse } from 'node:http';
import { TesseraError } from '@tessera/core';
import {
  checkDeclaredLength,
  type HostRequestInfo,
  type Incoming,
  parsedBody,
  splitTarget,
  tooLarge,
} from './incoming.ts';
import { type HeaderReader, type HttpResponse, MAX_BODY_BYTES } from './types.ts';

/** `IncomingMessage.headers` read through `get` (repeated headers joined as `Headers` joins them). */
class NodeHeaders implements HeaderReader {
  readonly #headers: IncomingMessage['headers'];
  constructor(headers: IncomingMessage['headers']) {
    this.#headers = headers;
  }
  get(name: string): string | null {
    const key = name.toLowerCase();
    const value = this.#headers[key];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(key === 'cookie' ? '; ' : ', ') : value;
  }
}

/**
 * Reads a Node request body up to 16 KB. Throws `payload_too_large` as soon as the declared or
 * received length passes the limit (the rest is drained, not buffered), and `invalid_request` when the
 * client goes away mid-body.
 */
export function readNodeBody(message: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    try {
      checkDeclaredLength(message.headers['content-length'] ?? null);
    } catch (error) {
      message.resume();
      reject(error);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      message.off('data', onData);
      message.off('end', onEnd);
      message.off('error', onError);
      message.off('aborted', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        message.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    const onError = (): void => {
      cleanup();
      reject(new TesseraError('invalid_request', 'The request body was cut off.'));
    };
    message.on('data', onData);
    message.on('end', onEnd);
    message.on('error', onError);
    message.on('aborted', onError);
  });
}

/**
 * The handler's view of a Node request: no web `Request` is built (the allocation the Node hosts save).
 * `target` is the request target to route (default `message.url`; Express passes `originalUrl`);
 * `bodyError` is a host parser's failure, answered as the route's body error.
 */
export function fromNodeRequest(
  message: IncomingMessage,
  info: HostRequestInfo & { target?: string; bodyError?: Error } = {},
): Incoming {
  const { pathname, search } = splitTarget(info.target ?? message.url ?? '/');
  const method = (message.method ?? 'GET').toUpperCase();
  return {
    method,
    pathname,
    search,
    headers: new NodeHeaders(message.headers),
    peer: info.ip ?? message.socket?.remoteAddress ?? '',
    async readBody() {
      // The host's parser failed on this body (already translated to Tessera's error).
      if (info.bodyError) throw info.bodyError;
      if (info.parsedBody)
        return parsedBody(info.parsedBody.value, message.headers['content-length'] ?? null);
      if (method === 'GET' || method === 'HEAD' || message.readableEnded) return { kind: 'none' };
      const bytes = await readNodeBody(message);
      return bytes.byteLength === 0 ? { kind: 'none' } : { kind: 'raw', bytes };
    },
  };
}

/**
 * Writes an {@link HttpResponse} to a Node response: a stream is pumped (and cancelled when the client
 * goes away), text is ended. With `head`, only the headers go out, with the text's `Content-Length`;
 * with `closeAfter` (a handler shutting down), `Connection: close` so keep-alive clients leave.
 */
export function writeNodeResponse(
  res: ServerResponse,
  response: HttpResponse,
  head = false,
  closeAfter = false,
): void {
  if (closeAfter) response.headers.connection = 'close';
  const body = response.body;
  if (typeof body === 'string' || body === undefined) {
    const headers: Record<string, string | string[]> = response.headers;
    if (typeof body === 'string') headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(response.status, headers);
    res.end(head ? undefined : body);
    return;
  }
  res.writeHead(response.status, response.headers);
  if (head) {
    void body.cancel().catch(() => {});
    res.end();
    return;
  }
  res.flushHeaders();
  const reader = body.getReader();
  // A long-lived stream (server-sent events) ends when the client goes away.
  res.once('close', () => {
    void reader.cancel().catch(() => {});
  });
  const pump = async (): Promise<void> => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || res.destroyed) break;
      res.write(value);
    }
    // The server ended the stream (a shutdown, the feed closing): the connection goes too, so a
    // closing server does not wait for it to idle out.
    res.end(() => res.socket?.end());
  };
  pump().catch(() => res.destroy());
}
