import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import { countAttempt, type EngineContext, ipKey } from './context.ts';
import type { TokenSet } from './issue-tokens.ts';
import { type ClientInfo, sessionClient } from './login.ts';
import { signInWithIdentity } from './sign-in-with-identity.ts';
import { providerUnavailable, type TrustedIssuerRegistry } from './trusted-issuers.ts';

/** RFC 8693 §3: the `subject_token_type` of an OpenID Connect ID token. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** RFC 8693 §3: the `issued_token_type` when a refresh token is issued. */
export const REFRESH_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:refresh_token';
/** RFC 8693 §3: the `issued_token_type` under single-token policies. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** RFC 8693 §2.1: the token-exchange grant type. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Longest subject token accepted (characters): ID tokens are far smaller. */
export const SUBJECT_TOKEN_MAX_LENGTH = 8192;
const NONCE_MAX_LENGTH = 512;

/** Input of `exchangeIdToken`: an ID token from a trusted provider, and the client it came from. */
export interface IdTokenExchangeInput extends ClientInfo {
  /** The ID token (a signed JWT). */
  subjectToken: string;
  /** Must be {@link ID_TOKEN_TYPE}. */
  subjectTokenType: string;
  /** The nonce the client sent in its authentication request: the ID token must carry the same. */
  nonce?: string | null | undefined;
}

/** A token set from an exchange, with what it issued (RFC 8693 §2.2.1 `issued_token_type`). */
export interface ExchangedTokenSet extends TokenSet {
  issuedTokenType: string;
  /** True when this sign-in created the user. */
  newUser: boolean;
}

const INVALID = (why: string, cause?: unknown): TesseraError =>
  new TesseraError('invalid_grant', `The subject token is not acceptable: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });

/** Why `jwtVerify` refused, as a sentence without token content; `null` for a provider outage. */
function refusal(error: unknown): string | null {
  const { code, claim } = (error ?? {}) as { code?: unknown; claim?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return claim === 'iat' ? 'it was issued too long ago.' : 'it expired.';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'iss') return 'it is from another issuer.';
      if (claim === 'aud') return 'it is for another audience.';
      if (claim === 'iat') return 'it was issued in the future.';
      if (claim === 'nbf') return 'it is not valid yet.';
      return 'a claim is missing or invalid.';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'its signature algorithm is not accepted.';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'it is not signed by a key its issuer publishes.';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'its signature is invalid.';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'it is not a valid signed JWT.';
    default:
      // A JWKS fetch that timed out or failed, or anything unexpected: not the caller's fault.
      return null;
  }
}

function sameText(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

/** The checks `jwtVerify` does not make: `typ`, `azp`, `sub`, `nonce`. Throws `invalid_grant`. */
function checkIdTokenClaims(
  token: string,
  payload: JWTPayload,
  audience: string,
  nonce: string | null,
): { subject: string } {
  const { typ } = decodeProtectedHeader(token);
  // An access token or a logout token is not an ID token (RFC 8725 §3.11: explicit typing).
  if (typ !== undefined && !['jwt', 'application/jwt'].includes(String(typ).toLowerCase())) {
    throw INVALID('it is not an ID token.');
  }
  const aud = payload.aud;
  // OpenID Connect Core §3.1.3.7: with several audiences, `azp` says who the token was issued to.
  if ((Array.isArray(aud) && aud.length > 1) || payload.azp !== undefined) {
    if (payload.azp !== audience) throw INVALID('it was issued to another party (azp).');
  }
  const subject = payload.sub;
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255) {
    throw INVALID('it has no valid subject.');
  }
  if (nonce !== null && (typeof payload.nonce !== 'string' || !sameText(payload.nonce, nonce))) {
    throw INVALID('its nonce does not match.');
  }
  return { subject };
}

function checkInput(input: IdTokenExchangeInput): { token: string; nonce: string | null } {
  assertInputObject(input);
  if (input.subjectTokenType !== ID_TOKEN_TYPE) {
    throw new TesseraError('invalid_request', `subject_token_type must be ${ID_TOKEN_TYPE}.`, {
      field: 'subject_token_type',
    });
  }
  const token = input.subjectToken;
  if (typeof token !== 'string' || token.length === 0 || token.length > SUBJECT_TOKEN_MAX_LENGTH) {
    throw new TesseraError('invalid_request', 'subject_token must be an ID token.', {
      field: 'subject_token',
    });
  }
  const nonce = input.nonce ?? null;
  if (
    nonce !== null &&
    (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > NONCE_MAX_LENGTH)
  ) {
    throw new TesseraError('invalid_request', `nonce must be 1 to ${NONCE_MAX_LENGTH} characters.`, {
      field: 'nonce',
    });
  }
  return { token, nonce };
}

/**
 * RFC 8693 token exchange of an OpenID Connect ID token for a Tessera session. The token must come from
 * a trusted issuer (never fetched from otherwise) and pass: its signature with the issuer's published
 * keys and algorithms (never `none` or `HS*`), `iss`, `aud` (and `azp`), `exp` and `iat` (within the
 * leeway, not older than `idTokenMaxAgeSeconds`), `nonce` when the caller sends one, a `sub`. The
 * `(iss, sub)` pair maps to one user, created at the first sign-in (see {@link signInWithIdentity}).
 * Counted per client IP (as logins are) before anything, and per identity once verified.
 * Throws `invalid_request`, `invalid_grant` (the token is refused: nothing changed), `rate_limited`,
 * `account_disabled`, `email_taken`, `service_unavailable` (the provider cannot be reached).
 */
export async function exchangeIdToken(
  ctx: EngineContext,
  issuers: TrustedIssuerRegistry,
  input: IdTokenExchangeInput,
): Promise<ExchangedTokenSet> {
  const { token, nonce } = checkInput(input);
  const client = sessionClient(input);
  if (ctx.limits) await countAttempt(ctx, ipKey('login', input.ip), ctx.limits.loginPerIp);
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch (error) {
    throw INVALID('it is not a JWT.', error);
  }
  const issuer = issuers.find(unverified.iss);
  if (!issuer) throw INVALID('its issuer is not trusted here.');
  const keys = await issuers.keys(issuer);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys.getKey, {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: keys.algorithms,
      clockTolerance: ctx.leewaySeconds,
      currentDate: new Date(ctx.clock.now()),
      maxTokenAge: ctx.options.idTokenMaxAgeSeconds,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    }));
  } catch (error) {
    const why = refusal(error);
    if (why === null) throw providerUnavailable(error);
    throw INVALID(why, error);
  }
  const { subject } = checkIdTokenClaims(token, payload, issuer.audience, nonce);
  const identity = { issuer: issuer.issuer, subject };
  if (ctx.limits) {
    // Bounds how many sessions one identity (or one stolen ID token) can open.
    const hashed = createHash('sha256').update(`${identity.issuer}\n${subject}`).digest('base64url');
    await countAttempt(ctx, `external:identity:${hashed}`, ctx.limits.externalLoginPerIdentity);
  }
  const { tokens, newUser } = await signInWithIdentity(ctx, issuer, identity, payload, client);
  return {
    ...tokens,
    issuedTokenType: ctx.policy.issuesRefreshToken ? REFRESH_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
    newUser,
  };
}
