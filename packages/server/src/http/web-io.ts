import {
  checkDeclaredLength,
  type HostRequestInfo,
  type Incoming,
  parsedBody,
  readWebBody,
} from './incoming.ts';
import type { HttpResponse } from './types.ts';

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** The handler's view of a web `Request` (Next.js, Hono, Bun, Deno, or any `fetch` host). */
export function fromRequest(request: Request, info: HostRequestInfo = {}): Incoming {
  const url = new URL(request.url);
  const headers = request.headers;
  return {
    method: request.method.toUpperCase(),
    pathname: url.pathname,
    search: url.search,
    headers: headers.has('host') ? headers : withHost(headers, url.host),
    peer: info.ip ?? '',
    async readBody() {
      if (info.parsedBody) return parsedBody(info.parsedBody.value, headers.get('content-length'));
      if (request.body === null) return { kind: 'none' };
      checkDeclaredLength(headers.get('content-length'));
      return { kind: 'raw', bytes: await readWebBody(request.body) };
    },
  };
}

// A `Request` built by a fetch host may lack `Host` (it is a forbidden header name there): the URL says it.
function withHost(headers: Headers, host: string): { get(name: string): string | null } {
  return { get: (name) => (name.toLowerCase() === 'host' ? host : headers.get(name)) };
}

/**
 * A web `Response` for an {@link HttpResponse}. For `HEAD` the body is left out (a stream is cancelled)
 * and a text body's `Content-Length` is kept.
 */
export function toResponse(response: HttpResponse, head: boolean): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  let body = response.body ?? null;
  if (head || NULL_BODY_STATUSES.has(response.status)) {
    if (typeof body === 'string') headers.set('content-length', String(Buffer.byteLength(body)));
    else if (body !== null) void body.cancel().catch(() => {});
    body = null;
  }
  return new Response(body, { status: response.status, headers });
}
