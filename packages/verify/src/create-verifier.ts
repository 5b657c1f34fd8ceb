import { decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { VerifyError } from './errors.ts';
import { type Feed, startFeed } from './feed-client.ts';
import { createJwksCache } from './jwks-cache.ts';
import { createRevocationSet } from './revocation-set.ts';
import { createTokenCache } from './token-cache.ts';

/** The claims of a verified Tessera access token. */
export interface VerifiedClaims extends JWTPayload {
  iss: string;
  sub: string;
  exp: number;
  iat: number;
  jti: string;
  sid: string;
  ver: number;
  roles?: string[];
}

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** The issuer (`iss`), e.g. `https://auth.example.com`. Endpoints default to paths below it. */
  issuer: string;
  /** The expected `aud`. */
  audience: string;
  /** Default `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Default `<issuer>/auth/revocations` (the stream is `<that>/stream`). */
  revocationsUrl?: string;
  /** Default `<issuer>/oauth/introspect`. */
  introspectionUrl?: string;
  /** Bearer token for the feed and introspection (`TESSERA_SERVICE_TOKEN`). */
  serviceToken?: string | undefined;
  /** Accepted algorithms. Default EdDSA, ES256, RS256. */
  algorithms?: readonly string[];
  /** Clock skew allowed on `exp`/`nbf`/`iat`, seconds. Default 2, at most 60. */
  clockToleranceSeconds?: number;
  /** The staleness bound: feed silence longer than this is "stale". Default 30,000 ms. */
  maxStalenessMs?: number;
  /** What to do when stale: ask the issuer per token (RFC 7662), or refuse. Default `introspect`. */
  onStale?: 'introspect' | 'reject';
  /** Verified tokens kept in memory. Default 100,000. */
  tokenCacheSize?: number;
  /** Follow the revocation feed. Default true. */
  feed?: boolean;
  fetch?: typeof fetch;
  /** Clock (ms since the epoch). */
  now?: () => number;
}

/** What a verifier reports about itself. */
export interface VerifierStatus {
  feedConnected: boolean;
  /** Milliseconds since the feed last spoke (event, heartbeat or snapshot); Infinity before it did. */
  feedLagMs: number;
  stale: boolean;
  revocations: number;
  cachedTokens: number;
  jwksKeys: number;
}

/** A resource server's verifier of Tessera access tokens. */
export interface Verifier {
  /** Verifies `token` and returns its claims; throws {@link VerifyError}. */
  verify(token: string): Promise<VerifiedClaims>;
  /** Resolves when the JWKS and (if enabled) the first revocation snapshot are loaded. */
  ready(): Promise<void>;
  status(): VerifierStatus;
  close(): Promise<void>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `The access token has an invalid "${error.claim}" claim.`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token uses a disallowed algorithm.';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'The access token signature is invalid.';
  return 'The access token is invalid.';
}

/**
 * Creates a verifier: strict local checks with keys from the issuer's JWKS, revocations followed
 * through the feed and checked in memory on every call, a cache of verified tokens (a repeated token
 * skips the signature check until it expires; revocations still apply), and a stated staleness bound
 * past which it introspects or refuses.
 * @example
 * const verifier = createVerifier({ issuer: 'https://auth.example.com', audience: 'https://auth.example.com', serviceToken });
 * await verifier.ready();
 * const claims = await verifier.verify(token);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const fetchImpl = options.fetch ?? fetch;
  const algorithms = options.algorithms ?? ['EdDSA', 'ES256', 'RS256'];
  const tolerance = Math.min(60, Math.max(0, options.clockToleranceSeconds ?? 2));
  const maxStalenessMs = options.maxStalenessMs ?? 30_000;
  const headers: Record<string, string> = options.serviceToken
    ? { authorization: `Bearer ${options.serviceToken}` }
    : {};
  const jwks = createJwksCache({
    url: options.jwksUrl ?? `${issuer}/.well-known/jwks.json`,
    algorithms,
    fetch: fetchImpl,
    now,
  });
  const revocations = createRevocationSet();
  const cache = createTokenCache<VerifiedClaims>(options.tokenCacheSize ?? 100_000);
  const revocationsUrl = options.revocationsUrl ?? `${issuer}/auth/revocations`;
  const feed: Feed | null =
    options.feed === false
      ? null
      : startFeed({
          revocationsUrl,
          streamUrl: `${revocationsUrl}/stream`,
          headers,
          set: revocations,
          fetch: fetchImpl,
          now,
        });
  feed?.ready.catch(() => undefined);
  let lastPruneMs = 0;

  const lag = (): number => {
    if (!feed) return 0;
    const last = feed.status().lastMessageAtMs;
    return last === 0 ? Number.POSITIVE_INFINITY : now() - last;
  };

  const introspect = async (token: string): Promise<VerifiedClaims> => {
    let response: Response;
    try {
      response = await fetchImpl(options.introspectionUrl ?? `${issuer}/oauth/introspect`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
    } catch (cause) {
      throw new VerifyError('temporarily_unavailable', 'The issuer cannot be reached to check revocations.', {
        cause,
      });
    }
    if (!response.ok) throw new VerifyError('temporarily_unavailable', 'The issuer refused introspection.');
    const body = (await response.json()) as { active?: boolean };
    if (body.active !== true) throw new VerifyError('invalid_token', 'The access token is not active.');
    return body as unknown as VerifiedClaims;
  };

  const checkLive = (claims: VerifiedClaims, nowMs: number): void => {
    if (nowMs >= (claims.exp + tolerance) * 1000)
      throw new VerifyError('invalid_token', 'The access token expired.');
    const reason = revocations.reason(claims, nowMs);
    if (reason) throw new VerifyError('invalid_token', reason);
  };

  return {
    async verify(token) {
      const nowMs = now();
      if (nowMs - lastPruneMs > 5000) {
        revocations.prune(nowMs);
        lastPruneMs = nowMs;
      }
      if (feed && lag() > maxStalenessMs) {
        if (options.onStale === 'reject') {
          throw new VerifyError('temporarily_unavailable', 'Revocations are not current; try again shortly.');
        }
        // Signature and claims are still checked locally below; introspection answers for revocation.
        await verifyLocally(token, nowMs);
        return introspect(token);
      }
      const cached = cache.get(token, nowMs);
      if (cached) {
        checkLive(cached.claims, nowMs);
        return cached.claims;
      }
      const claims = await verifyLocally(token, nowMs);
      checkLive(claims, nowMs);
      cache.set(token, { claims, expiresAtMs: (claims.exp + tolerance) * 1000 });
      return claims;
    },
    async ready() {
      await jwks.refresh();
      await feed?.ready;
    },
    status() {
      const feedLagMs = lag();
      return {
        feedConnected: feed?.status().connected ?? false,
        feedLagMs,
        stale: feed !== null && feedLagMs > maxStalenessMs,
        revocations: revocations.size(),
        cachedTokens: cache.size(),
        jwksKeys: jwks.size(),
      };
    },
    async close() {
      feed?.stop();
      cache.clear();
    },
  };

  async function verifyLocally(token: string, nowMs: number = now()): Promise<VerifiedClaims> {
    if (token.length > 8192 || !JWT_SHAPE.test(token))
      throw new VerifyError('invalid_token', 'The access token is malformed.');
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new VerifyError('invalid_token', 'The access token header is malformed.');
    }
    if (typeof kid !== 'string' || kid.length > 200)
      throw new VerifyError('invalid_token', 'The access token names no known key.');
    const key = await jwks.get(kid);
    if (!key) throw new VerifyError('invalid_token', 'The access token names no known key.');
    try {
      const { payload } = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        typ: 'at+jwt',
        issuer,
        audience: options.audience,
        clockTolerance: tolerance,
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
      });
      if (
        typeof payload.sid !== 'string' ||
        typeof payload.ver !== 'number' ||
        typeof payload.iat !== 'number'
      ) {
        throw new VerifyError('invalid_token', 'The access token lacks Tessera claims.');
      }
      if (payload.iat > nowMs / 1000 + tolerance)
        throw new VerifyError('invalid_token', 'The access token was issued in the future.');
      return payload as VerifiedClaims;
    } catch (error) {
      if (error instanceof VerifyError) throw error;
      throw new VerifyError('invalid_token', describe(error), { cause: error });
    }
  }
}
