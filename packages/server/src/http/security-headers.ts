import { DPOP_NONCE_HEADER, RENEWED_TOKEN_EXPIRES_HEADER, RENEWED_TOKEN_HEADER } from '@tessera/protocol';
import type { HeaderReader, HttpResponse } from './types.ts';

/** Sent on every response Tessera writes, errors and host-level refusals included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
});

const EXPOSED = `WWW-Authenticate, Retry-After, ${RENEWED_TOKEN_HEADER}, ${RENEWED_TOKEN_EXPIRES_HEADER}, ${DPOP_NONCE_HEADER}`;

/** CORS headers for a request whose `Origin` is allowed (none otherwise). */
export function corsHeaders(
  headers: HeaderReader,
  allowedOrigins: readonly string[],
): Record<string, string> {
  const origin = headers.get('origin');
  if (origin === null || !allowedOrigins.includes(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': EXPOSED,
    vary: 'Origin',
  };
}

/** Adds the security headers (where a route did not set its own) and, given request headers, CORS. */
export function decorate(
  response: HttpResponse,
  headers: HeaderReader | null,
  allowedOrigins: readonly string[],
): HttpResponse {
  for (const name in SECURITY_HEADERS) {
    if (response.headers[name] === undefined) response.headers[name] = SECURITY_HEADERS[name] as string;
  }
  if (headers !== null) Object.assign(response.headers, corsHeaders(headers, allowedOrigins));
  return response;
}
