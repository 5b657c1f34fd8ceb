/** The longest token either side accepts in an `Authorization` header (characters). */
export const MAX_TOKEN_LENGTH = 8192;

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The authentication schemes Tessera reads from `Authorization`. */
export type AuthorizationScheme = 'Bearer' | 'DPoP';

/** What an `Authorization` header says. */
export type ParsedAuthorization =
  /** No header, or a scheme Tessera does not read (Basic, …): answer as if no token was sent. */
  | { kind: 'none' }
  /** A Bearer or DPoP header whose token is empty, too long or not a b64token (RFC 6750 §3.1 `invalid_request`). */
  | { kind: 'malformed'; scheme: AuthorizationScheme }
  | { kind: 'token'; scheme: AuthorizationScheme; token: string };

/**
 * Parses `Authorization: Bearer <token>` (RFC 6750 §2.1) or `Authorization: DPoP <token>` (RFC 9449
 * §7.1). Scheme names are case-insensitive; the token must be a b64token of at most
 * {@link MAX_TOKEN_LENGTH} characters.
 * @example
 * parseAuthorization('Bearer eyJ…'); // { kind: 'token', scheme: 'Bearer', token: 'eyJ…' }
 * parseAuthorization('Bearer a b'); // { kind: 'malformed', scheme: 'Bearer' }
 */
export function parseAuthorization(header: string | null | undefined): ParsedAuthorization {
  if (header === undefined || header === null) return { kind: 'none' };
  const match = /^(\S+)(?: +(.*))?$/.exec(header.trim());
  const name = match?.[1]?.toLowerCase();
  const scheme: AuthorizationScheme | null = name === 'bearer' ? 'Bearer' : name === 'dpop' ? 'DPoP' : null;
  if (!match || scheme === null) return { kind: 'none' };
  const token = match[2]?.trim() ?? '';
  if (!token || token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token))
    return { kind: 'malformed', scheme };
  return { kind: 'token', scheme, token };
}
