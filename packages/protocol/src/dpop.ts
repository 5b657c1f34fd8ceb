import { challenge } from './challenge.ts';

/**
 * DPoP (RFC 9449): the checks a server and a resource service both run on a proof whose signature
 * the caller has already verified with the key in its own `jwk` header (jose `jwtVerify` +
 * `EmbeddedJWK`), the error codes, and the `WWW-Authenticate` challenge. No dependencies: hashing is
 * WebCrypto's `crypto.subtle`.
 */

/** The request header carrying a proof (RFC 9449 §4.1), lower case. */
export const DPOP_HEADER = 'dpop';
/** The response header carrying a server nonce (RFC 9449 §8.1), lower case. */
export const DPOP_NONCE_HEADER = 'dpop-nonce';
/** The `typ` of a DPoP proof (RFC 9449 §4.2). */
export const DPOP_PROOF_TYP = 'dpop+jwt';
/** The `token_type` of a token response whose access token is DPoP-bound (RFC 9449 §5). */
export const DPOP_TOKEN_TYPE = 'DPoP';

/**
 * The proof algorithms Tessera accepts: asymmetric only (RFC 9449 §4.2), never `none` or HMAC.
 * `Ed25519` is RFC 9864's fully-specified name for `EdDSA` over Ed25519 (oauth4webapi signs with it).
 */
export type DpopAlgorithm = 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256';
/** {@link DpopAlgorithm}s in preference order, as listed in `dpop_signing_alg_values_supported`. */
export const DPOP_SIGNING_ALGS: readonly DpopAlgorithm[] = /* @__PURE__ */ Object.freeze([
  'ES256',
  'EdDSA',
  'Ed25519',
  'RS256',
] as const);

/** RFC 9449 §7.1 / §12.2: the proof is missing a check, or is malformed. */
export const INVALID_DPOP_PROOF = 'invalid_dpop_proof';
/** RFC 9449 §8: the server wants a proof carrying its current `DPoP-Nonce`. */
export const USE_DPOP_NONCE = 'use_dpop_nonce';
/** The error codes a proof check returns. */
export type DpopErrorCode = typeof INVALID_DPOP_PROOF | typeof USE_DPOP_NONCE;

/** How old a proof's `iat` may be by default (seconds); the replay cache keeps a `jti` this long plus the leeway. */
export const DEFAULT_DPOP_PROOF_MAX_AGE_SECONDS = 60;
/** How far in the future a proof's `iat` may be by default (seconds): the client's clock skew. */
export const DEFAULT_DPOP_PROOF_LEEWAY_SECONDS = 5;
/** The longest `jti` accepted (characters), so a replay cache entry stays small. */
export const MAX_DPOP_JTI_LENGTH = 256;

/** A proof's public key as its `jwk` header carries it. */
export type DpopPublicJwk = Readonly<Record<string, unknown>> & { kty: string };

/** What a request's `DPoP` header holds. */
export type ParsedDpopHeader =
  | { kind: 'none' }
  /** Several proofs, or not a compact JWS (RFC 9449 §4.3 checks 1 and 2). */
  | { kind: 'malformed' }
  | { kind: 'proof'; jwt: string };

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** A proof carries a key, so it is longer than a token's header; 8 KiB still bounds RSA keys well. */
const MAX_PROOF_LENGTH = 8192;

/**
 * Reads a request's `DPoP` header value (`Headers.get` joins repeated headers with `, `, which a
 * compact JWS never contains, so two proofs are refused as RFC 9449 §4.3 check 1 requires).
 * @example
 * readDpopHeader(request.headers.get('dpop')); // { kind: 'proof', jwt: 'eyJ…' }
 */
export function readDpopHeader(value: string | null | undefined): ParsedDpopHeader {
  if (value === null || value === undefined) return { kind: 'none' };
  const jwt = value.trim();
  if (jwt.length === 0 || jwt.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(jwt))
    return { kind: 'malformed' };
  return { kind: 'proof', jwt };
}

/** The outcome of a proof check: the caller branches on it, so it is a value, not a throw. */
export type DpopCheckResult<T> =
  | ({ ok: true } & T)
  | { ok: false; error: DpopErrorCode; description: string };

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
// 2048 bits in base64url without padding.
const MIN_RSA_MODULUS_CHARS = 342;

function refuse(description: string, error: DpopErrorCode = INVALID_DPOP_PROOF) {
  return { ok: false as const, error, description };
}

/**
 * Checks a proof's protected header (RFC 9449 §4.3 checks 4–7): `typ` is `dpop+jwt`, `alg` is one of
 * {@link DPOP_SIGNING_ALGS}, `jwk` is a public key of that algorithm's type (EC P-256, OKP Ed25519 for
 * `EdDSA` and `Ed25519`,
 * RSA of at least 2048 bits) with no private member. Run it before verifying the signature too, so
 * nothing else is tried on a header that could never pass.
 */
export function checkDpopProofHeader(
  header: Readonly<Record<string, unknown>>,
): DpopCheckResult<{ alg: DpopAlgorithm; jwk: DpopPublicJwk }> {
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== DPOP_PROOF_TYP)
    return refuse('The DPoP proof typ must be dpop+jwt.');
  const alg = header.alg;
  if (typeof alg !== 'string' || !(DPOP_SIGNING_ALGS as readonly string[]).includes(alg))
    return refuse(`The DPoP proof alg must be one of ${DPOP_SIGNING_ALGS.join(', ')}.`);
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    return refuse('The DPoP proof must carry its public key in jwk.');
  const key = jwk as Record<string, unknown>;
  if (PRIVATE_JWK_MEMBERS.some((member) => member in key))
    return refuse('The DPoP proof jwk must be a public key.');
  const str = (name: string) => typeof key[name] === 'string' && (key[name] as string).length > 0;
  const fits =
    alg === 'ES256'
      ? key.kty === 'EC' && key.crv === 'P-256' && str('x') && str('y')
      : alg === 'EdDSA' || alg === 'Ed25519'
        ? key.kty === 'OKP' && key.crv === 'Ed25519' && str('x')
        : key.kty === 'RSA' && str('n') && str('e') && (key.n as string).length >= MIN_RSA_MODULUS_CHARS;
  if (!fits) return refuse('The DPoP proof jwk does not fit its alg.');
  return { ok: true, alg: alg as DpopAlgorithm, jwk: key as DpopPublicJwk };
}

/**
 * Normalizes an `htu` or request URL for comparison (RFC 9449 §4.3 check 9): query and fragment
 * dropped, then RFC 3986 §6.2.2 syntax-based normalization (scheme and host lower-cased, default
 * port dropped, dot segments removed, empty path as `/`, percent-encodings upper-cased and those of
 * unreserved characters decoded). `null` when the text is not an absolute http(s) URL.
 */
export function normalizeHtu(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  const path = parsed.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${parsed.protocol}//${parsed.host}${path}`;
}

/** `base64url(SHA-256(accessToken))`: the `ath` a proof sent with that token must carry (RFC 9449 §4.2). */
export async function computeDpopAth(accessToken: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken));
  let binary = '';
  for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** What a proof must match: the request it came with, the clock, and optionally a token and a nonce. */
export interface DpopProofExpectations {
  /** The request's method, e.g. `POST` (compared exactly with `htm`). */
  method: string;
  /** The request's URL as the client addressed it (behind a proxy: the public URL), query allowed. */
  url: string;
  /** The verifier's clock, in seconds since the epoch. */
  nowSeconds: number;
  /** How old `iat` may be (seconds, default {@link DEFAULT_DPOP_PROOF_MAX_AGE_SECONDS}). */
  maxAgeSeconds?: number;
  /** How far ahead `iat` may be (seconds, default {@link DEFAULT_DPOP_PROOF_LEEWAY_SECONDS}). */
  leewaySeconds?: number;
  /** When the proof comes with an access token (`Authorization: DPoP`): `ath` must be its hash. */
  accessToken?: string;
  /**
   * When set, a nonce is required: called with the proof's `nonce`; `false` (or no nonce) gives
   * {@link USE_DPOP_NONCE}, so the caller answers with a fresh `DPoP-Nonce` (RFC 9449 §8).
   */
  acceptNonce?: (nonce: string) => boolean | Promise<boolean>;
}

/** A proof that passed {@link checkDpopProof}: the caller still checks `jti` against its replay cache. */
export interface AcceptedDpopProof {
  alg: DpopAlgorithm;
  jwk: DpopPublicJwk;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
}

/**
 * Checks a signature-verified proof (RFC 9449 §4.3): the header ({@link checkDpopProofHeader}), a
 * `jti`, `htm` equal to the method, `htu` equal to the request URL once both are normalized
 * ({@link normalizeHtu}), `iat` within `[now - maxAge, now + leeway]`, `ath` when a token is
 * presented, and `nonce` when one is required. Replay (`jti` seen before) is the caller's check,
 * since only it knows where its cache lives.
 * @example
 * const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_SIGNING_ALGS] });
 * const result = await checkDpopProof(protectedHeader, payload, { method: 'POST', url: 'https://auth.example/auth/refresh', nowSeconds });
 * if (!result.ok) return new Response(null, { status: 400 }); // result.error is invalid_dpop_proof or use_dpop_nonce
 */
export async function checkDpopProof(
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
  expect: DpopProofExpectations,
): Promise<DpopCheckResult<AcceptedDpopProof>> {
  const checkedHeader = checkDpopProofHeader(header);
  if (!checkedHeader.ok) return checkedHeader;
  const { jti, htm, htu, iat } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_DPOP_JTI_LENGTH)
    return refuse('The DPoP proof must carry a jti.');
  if (typeof htm !== 'string' || htm !== expect.method)
    return refuse('The DPoP proof htm does not match the request method.');
  const expectedHtu = normalizeHtu(expect.url);
  if (typeof htu !== 'string' || expectedHtu === null || normalizeHtu(htu) !== expectedHtu)
    return refuse('The DPoP proof htu does not match the request URL.');
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    return refuse('The DPoP proof must carry a numeric iat.');
  const maxAge = expect.maxAgeSeconds ?? DEFAULT_DPOP_PROOF_MAX_AGE_SECONDS;
  const leeway = expect.leewaySeconds ?? DEFAULT_DPOP_PROOF_LEEWAY_SECONDS;
  if (iat < expect.nowSeconds - maxAge || iat > expect.nowSeconds + leeway)
    return refuse('The DPoP proof iat is outside the accepted window.');
  if (expect.accessToken !== undefined) {
    if (typeof payload.ath !== 'string' || payload.ath !== (await computeDpopAth(expect.accessToken)))
      return refuse('The DPoP proof ath does not match the access token.');
  }
  if (expect.acceptNonce !== undefined) {
    const nonce = payload.nonce;
    if (typeof nonce !== 'string' || nonce.length === 0 || !(await expect.acceptNonce(nonce)))
      return refuse('A fresh DPoP-Nonce is required.', USE_DPOP_NONCE);
  }
  return { ok: true, alg: checkedHeader.alg, jwk: checkedHeader.jwk, jti, iat };
}

/** The `cnf.jkt` (RFC 9449 §6.1) of access-token claims, or `null` when the token is not DPoP-bound. */
export function readConfirmationThumbprint(claims: Readonly<Record<string, unknown>>): string | null {
  const cnf = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return null;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === 'string' && jkt.length > 0 ? jkt : null;
}

/** The errors a DPoP challenge carries: RFC 6750's `invalid_token`/`invalid_request` and RFC 9449's. */
export type DpopChallengeError = 'invalid_token' | 'invalid_request' | DpopErrorCode;

/**
 * A `WWW-Authenticate: DPoP` value (RFC 9449 §7.1): `error`, an optional `error_description`, and
 * `algs` listing the accepted proof algorithms (default {@link DPOP_SIGNING_ALGS}).
 * @example
 * dpopChallenge('invalid_dpop_proof', 'The DPoP proof htm does not match the request method.');
 * // 'DPoP error="invalid_dpop_proof", error_description="The DPoP proof htm …", algs="ES256 EdDSA Ed25519 RS256"'
 */
export function dpopChallenge(
  error?: DpopChallengeError,
  description?: string,
  algs: readonly string[] = DPOP_SIGNING_ALGS,
): string {
  return challenge('DPoP', { error, error_description: description, algs: algs.join(' ') });
}
