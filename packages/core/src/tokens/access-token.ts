import {
  ACCESS_TOKEN_TYP,
  checkTesseraClaims,
  describeVerificationError,
  REQUIRED_REGISTERED_CLAIMS,
  readKeyId,
  type TesseraClaims,
} from '@tessera/protocol';
import { jwtVerify } from 'jose';
import { TesseraError } from '../errors.ts';
import type { JwsSigner } from './jws-signer.ts';
import type { ActiveSigningKey, Keyring } from './keyring.ts';
import { randomBase64url } from './random-id.ts';
import { jwsSigningInput } from './sign-jws.ts';

/** Claims of an access token this engine minted (RFC 9068 profile plus `sid`, `ver`, roles, profile). */
export interface AccessTokenClaims extends TesseraClaims {
  client_id: string;
  /** When the user authenticated for this session (seconds). */
  auth_time: number;
  /** Authentication methods (RFC 8176). */
  amr: string[];
  /** Authentication context class: `'1'` one factor, `'2'` two, or the one a sign-in named. */
  acr: string;
  roles: string[];
  /** The user proved they receive mail at their address (OpenID Connect Core §5.1). */
  email_verified: boolean;
}

/** What an access token is minted from. Times in whole seconds since the epoch. */
export interface AccessTokenInput {
  issuer: string;
  audience: string;
  clientId: string;
  issuedAtSeconds: number;
  expiresAtSeconds: number;
  userId: string;
  sessionId: string;
  tokenVersion: number;
  authTimeMs: number;
  amr: string[];
  acr: string;
  roles: string[];
  /** Carried as `email_verified` under every policy. */
  emailVerified: boolean;
  /** Public profile claims; `null` values are left out. */
  profile: Record<string, string | null>;
  /** Claims set by the policy (e.g. `softexp`). Reserved claims cannot be overridden. */
  extraClaims?: Record<string, unknown>;
}

/**
 * Signs an access token with `key` (the keyring's current one): header `typ: at+jwt` (RFC 9068 §2.1)
 * and `kid`. The signature is requested before this returns; the promise waits for it.
 */
export async function mintAccessToken(
  key: ActiveSigningKey,
  signer: JwsSigner,
  input: AccessTokenInput,
): Promise<{ token: string; jti: string }> {
  const jti = randomBase64url(16);
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
    acr: input.acr,
    roles: input.roles,
    email_verified: input.emailVerified,
  };
  // Registered claims last, so neither policy extras nor profile fields can override them.
  const signingInput = jwsSigningInput(
    { alg: key.alg, typ: ACCESS_TOKEN_TYP, kid: key.kid },
    {
      ...payload,
      iss: input.issuer,
      sub: input.userId,
      aud: input.audience,
      iat: input.issuedAtSeconds,
      exp: input.expiresAtSeconds,
      jti,
    },
  );
  const signature = await signer.sign(signingInput, key.alg, key.privateKey);
  return { token: `${signingInput}.${signature}`, jti };
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

/**
 * Checks an access token's signature and claims strictly, with the checks `@tessera/verify` makes
 * (`@tessera/protocol`, so the two never disagree on a valid token): key by `kid` from the keyring
 * only (never from the header), that key's one algorithm, `typ: at+jwt`, `iss`, `aud`, `exp` with
 * leeway, the registered and Tessera claims. Does not check the session.
 * Throws {@link TesseraError} `invalid_token` with a sentence saying what failed.
 */
export async function verifyAccessTokenSignature(
  keyring: Keyring,
  token: string,
  options: VerifyAccessTokenOptions,
): Promise<AccessTokenClaims> {
  const kid = typeof token === 'string' ? readKeyId(token) : null;
  if (kid === null) {
    throw new TesseraError('invalid_token', 'The access token is malformed or names no signing key.');
  }
  const key = await keyring.verificationKey(kid);
  if (!key) throw new TesseraError('invalid_token', 'The access token names no known signing key.');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      typ: ACCESS_TOKEN_TYP,
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.allowExpired ? Number.MAX_SAFE_INTEGER : options.leewaySeconds,
      currentDate: new Date(options.nowMs),
      requiredClaims: [...REQUIRED_REGISTERED_CLAIMS],
    }));
  } catch (error) {
    throw new TesseraError('invalid_token', describeVerificationError(error), { cause: error });
  }
  const problem = checkTesseraClaims(payload, options.nowMs, options.leewaySeconds);
  if (problem !== null) throw new TesseraError('invalid_token', problem);
  return payload as AccessTokenClaims;
}
