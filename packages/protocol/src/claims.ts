import { MAX_TOKEN_LENGTH } from './authorization.ts';

/** The media type of access tokens (RFC 9068 §2.1), carried in the JOSE `typ` header. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Registered claims a Tessera access token must carry besides `iss`, `aud` (checked by value). */
// Marked pure so bundlers drop it from builds that do not use it (the browser client).
export const REQUIRED_REGISTERED_CLAIMS: readonly string[] = /* @__PURE__ */ Object.freeze([
  'sub',
  'jti',
  'iat',
  'exp',
]);

/** The `error_description` of a soft-expired token (`soft-expiry` policy): a stable string clients match. */
export const TOKEN_SOFT_EXPIRED = 'token_soft_expired';

/** The largest `clockTolerance`/leeway either side accepts, in seconds. */
export const MAX_CLOCK_LEEWAY_SECONDS = 60;

/** The Tessera claims of an access token, on top of RFC 9068's. */
export interface TesseraClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id?: string;
  /** The session id. */
  sid: string;
  /** The user's token version when the token was minted. */
  ver: number;
  /** When the user last authenticated for this session (seconds). */
  auth_time?: number;
  /** Authentication methods (RFC 8176). */
  amr?: string[];
  acr?: string;
  roles?: string[];
  /** `soft-expiry` policy: past this instant (seconds) the token only buys its renewal. */
  softexp?: number;
  /** DPoP-bound token (RFC 9449 §6.1): the SHA-256 JWK thumbprint (RFC 7638) of the client's key. */
  cnf?: { jkt: string };
  [claim: string]: unknown;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The `kid` of a compact JWS, read without verifying anything, or `null` when the token is not a
 * three-part compact JWS of at most {@link MAX_TOKEN_LENGTH} characters whose header names a `kid`
 * of at most 200 characters. The key must then come from the issuer's keys, never from the header.
 */
export function readKeyId(token: string): string | null {
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return null;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(base64UrlDecode(token.slice(0, token.indexOf('.')))));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null) return null;
  const kid = (header as { kid?: unknown }).kid;
  return typeof kid === 'string' && kid.length > 0 && kid.length <= 200 ? kid : null;
}

function base64UrlDecode(text: string): Uint8Array {
  const padded = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Tessera's own checks of a payload whose signature, `typ`, `iss`, `aud` and `exp` a JOSE library
 * already verified: `sid` a non-empty string, `ver` a safe integer, `iat` a number not in the future
 * beyond `leewaySeconds`. Returns the sentence that says what is wrong, or `null` when it is fine.
 */
export function checkTesseraClaims(
  payload: Record<string, unknown>,
  nowMs: number,
  leewaySeconds: number,
): string | null {
  if (
    typeof payload.sid !== 'string' ||
    payload.sid.length === 0 ||
    typeof payload.ver !== 'number' ||
    !Number.isSafeInteger(payload.ver) ||
    typeof payload.iat !== 'number' ||
    typeof payload.sub !== 'string'
  ) {
    return 'The access token lacks Tessera claims.';
  }
  if (payload.iat > nowMs / 1000 + leewaySeconds) return 'The access token was issued in the future.';
  if (payload.softexp !== undefined && typeof payload.softexp !== 'number') {
    return 'The access token has an invalid "softexp" claim.';
  }
  return null;
}

/**
 * True when a token carries `softexp` (the `soft-expiry` policy) and `nowMs` is past it (plus
 * `leewaySeconds` for another machine's clock). Such a token is refused everywhere except by the
 * renewal route, with the description {@link TOKEN_SOFT_EXPIRED}.
 */
export function isSoftExpired(payload: Record<string, unknown>, nowMs: number, leewaySeconds = 0): boolean {
  return typeof payload.softexp === 'number' && nowMs >= (payload.softexp + leewaySeconds) * 1000;
}

/**
 * A sentence for a verification failure raised by `jose` (read from its stable `code` and `claim`
 * fields, so this module needs no dependency); never contains the token.
 */
export function describeVerificationError(error: unknown): string {
  const { code, claim } = (error ?? {}) as { code?: unknown; claim?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'The access token expired.';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'iss') return 'The access token has the wrong issuer.';
      if (claim === 'aud') return 'The access token has the wrong audience.';
      if (claim === 'typ') return 'The access token has the wrong type.';
      if (claim === 'nbf') return 'The access token is not valid yet.';
      return typeof claim === 'string' && /^[a-z_]{1,32}$/.test(claim)
        ? `The access token has an invalid "${claim}" claim.`
        : 'The access token has an invalid claim.';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'The access token uses a disallowed algorithm.';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'The access token signature is invalid.';
    default:
      return 'The access token is invalid.';
  }
}
