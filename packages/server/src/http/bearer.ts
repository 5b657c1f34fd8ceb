import { TesseraError } from '@tessera/core';
import type { HttpRequest } from './types.ts';

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token of a request (RFC 6750 §2.1): `null` when there is no `Authorization` header or
 * it uses another scheme; throws `invalid_request` for a malformed Bearer header.
 */
export function readBearerToken(request: Pick<HttpRequest, 'headers'>): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = /^(\S+)(?: +(.*))?$/.exec(header.trim());
  if (!match || match[1]?.toLowerCase() !== 'bearer') return null;
  const token = match[2]?.trim() ?? '';
  if (!token || !B64TOKEN.test(token) || token.length > 8192) {
    throw new TesseraError('invalid_request', 'The Authorization header is not a valid Bearer token.');
  }
  return token;
}
