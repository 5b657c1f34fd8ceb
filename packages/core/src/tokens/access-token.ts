import { randomBytes } from 'node:crypto';
import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { TesseraError } from '../errors.ts';
import type { JwsSigner } from './jws-signer.ts';
import type { ActiveSigningKey, Keyring } from './keyring.ts';
import { jwsSigningInput } from './sign-jws.ts';

/** The media type of access tokens (RFC 9068 §2.1), carried in the `typ` header. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Claims of a Tessera access token (RFC 9068 profile plus `sid` and `ver`). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  /** The session id. */
  sid: string;
  /** The user's token version when the token was minted. */
  ver: number;
  /** When the user authenticated for this session (seconds). */
  auth_time: number;
  roles: string[];
}

/** What an access token is minted from. */
export interface AccessTokenInput {
  issuer: string;
  audience: string;
  clientId: string;
  ttlSeconds: number;
  nowMs: number;
  userId: string;
  sessionId: string;
  tokenVersion: number;
  authTimeMs: number;
  amr: string[];
  roles: string[];
  /** Public profile claims; `null` values are left out. */
  profile: Record<string, string | null>;
  /** Extra claims set by a policy (e.g. `softexp`). Reserved claims cannot be overridden. */
  extraClaims?: Record<string, unknown>;
}

/**
 * Signs an access token with `key` (the keyring's current one). The signature is requested before
 * this returns; the promise waits for it. Resolves the JWT and its expiry (seconds).
 */
export async function mintAccessToken(
  key: ActiveSigningKey,
  signer: JwsSigner,
  input: AccessTokenInput,
): Promise<{ token: string; expiresAt: number; jti: string }> {
  const iat = Math.floor(input.nowMs / 1000);
  const exp = iat + input.ttlSeconds;
  const jti = randomBytes(16).toString('base64url');
  const profile: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.profile)) if (value !== null) profile[name] = value;
  const payload = {
    ...input.extraClaims,
    ...profile,
    client_id: input.clientId,
    sid: input.sessionId,
    ver: input.tokenVersion,
    auth_time: Math.floor(input.authTimeMs / 1000),
    amr: input.amr,
    roles: input.roles,
  };
  // Reserved claims last, so neither policy extras nor profile fields can override them.
  const signingInput = jwsSigningInput(
    { alg: key.alg, typ: ACCESS_TOKEN_TYP, kid: key.kid },
    { ...payload, iss: input.issuer, sub: input.userId, aud: input.audience, iat, exp, jti },
  );
  const signature = await signer.sign(signingInput, key.alg, key.privateKey);
  return { token: `${signingInput}.${signature}`, expiresAt: exp, jti };
}

/** Options of {@link verifyAccessTokenSignature}. */
export interface VerifyAccessTokenOptions {
  issuer: string;
  audience: string;
  leewaySeconds: number;
  nowMs: number;
  /** Accept a token past its `exp` (only for a policy's expired-token exchange). */
  allowExpired?: boolean;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Checks an access token's signature and claims strictly: key by `kid` from the keyring only (never
 * from the header), that key's one algorithm, `typ: at+jwt`, `iss`, `aud`, `exp` with leeway,
 * required `sub`/`jti`/`sid`/`ver`/`iat`. Does not check revocation.
 * Throws {@link TesseraError} `invalid_token` with a sentence saying what failed.
 */
export async function verifyAccessTokenSignature(
  keyring: Keyring,
  token: string,
  options: VerifyAccessTokenOptions,
): Promise<AccessTokenClaims> {
  if (token.length > 8192 || !JWT_SHAPE.test(token)) {
    throw new TesseraError('invalid_token', 'The access token is malformed.');
  }
  let header: { kid?: unknown; alg?: unknown };
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
  } catch {
    throw new TesseraError('invalid_token', 'The access token header is malformed.');
  }
  if (
    typeof header !== 'object' ||
    header === null ||
    typeof header.kid !== 'string' ||
    header.kid.length > 200
  ) {
    throw new TesseraError('invalid_token', 'The access token names no known signing key.');
  }
  const key = await keyring.verificationKey(header.kid);
  if (!key) throw new TesseraError('invalid_token', 'The access token names no known signing key.');
  try {
    const { payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      typ: ACCESS_TOKEN_TYP,
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.allowExpired ? Number.MAX_SAFE_INTEGER : options.leewaySeconds,
      currentDate: new Date(options.nowMs),
      requiredClaims: ['sub', 'jti', 'iat', 'exp'],
    });
    if (
      typeof payload.sid !== 'string' ||
      typeof payload.ver !== 'number' ||
      !Number.isSafeInteger(payload.ver) ||
      typeof payload.iat !== 'number'
    ) {
      throw new TesseraError('invalid_token', 'The access token lacks Tessera claims.');
    }
    if (payload.iat > options.nowMs / 1000 + options.leewaySeconds) {
      throw new TesseraError('invalid_token', 'The access token was issued in the future.');
    }
    return payload as AccessTokenClaims;
  } catch (error) {
    if (error instanceof TesseraError) throw error;
    throw new TesseraError('invalid_token', describeJoseError(error), { cause: error });
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = error.claim;
    if (claim === 'iss') return 'The access token has the wrong issuer.';
    if (claim === 'aud') return 'The access token has the wrong audience.';
    if (claim === 'typ') return 'The access token has the wrong type.';
    if (claim === 'nbf') return 'The access token is not valid yet.';
    return `The access token has an invalid "${claim}" claim.`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token uses a disallowed algorithm.';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'The access token signature is invalid.';
  return 'The access token is invalid.';
}
