import { TesseraError } from '@tessera/core';
import { parseAuthorization } from '@tessera/protocol';
import type { HeaderReader } from './types.ts';

/**
 * The bearer token of a request (RFC 6750 §2.1), read by `@tessera/protocol`'s `parseAuthorization`:
 * `null` when there is no `Authorization` header or it uses a scheme Tessera does not read; throws
 * `invalid_request` for a malformed Bearer header.
 */
export function readBearerToken(headers: HeaderReader): string | null {
  const parsed = parseAuthorization(headers.get('authorization'));
  if (parsed.kind === 'none' || parsed.scheme !== 'Bearer') return null;
  if (parsed.kind === 'malformed') {
    throw new TesseraError('invalid_request', 'The Authorization header is not a valid Bearer token.');
  }
  return parsed.token;
}
