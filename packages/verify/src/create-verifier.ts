import {
  ACCESS_TOKEN_TYP,
  checkTesseraClaims,
  describeVerificationError,
  isSoftExpired,
  REQUIRED_REGISTERED_CLAIMS,
  readKeyId,
  type TesseraClaims,
  TOKEN_SOFT_EXPIRED,
} from '@tessera/protocol';
import { jwtVerify } from 'jose';
import { createDpopProofChecker, type DpopRequestParts } from './dpop-proof.ts';
import { VerifyError } from './errors.ts';
import { fetchJson } from './fetch-json.ts';
import type { JwksCache, JwksKey } from './jwks-cache.ts';
import { createRevocationSet } from './revocation-set.ts';
import { createTokenCache } from './token-cache.ts';
import { resolveVerifierOptions, type VerifierOptions } from './verifier-options.ts';
import { createVerifierSetup } from './verifier-setup.ts';

/** The claims of a verified Tessera access token. */
export type VerifiedClaims = TesseraClaims;

/** What a verifier reports about itself. */
export interface VerifierStatus {
  /** Discovery and the first JWKS fetch succeeded. */
  ready: boolean;
  /** Why they failed (the sentence `ready()` rejected with), or `null`. */
  setupError: string | null;
  feedConnected: boolean;
  /** Milliseconds since the feed last spoke (event, heartbeat or snapshot); Infinity before it did. */
  feedLagMs: number;
  /** The feed lag is past `maxStalenessMs`: tokens are introspected or refused, as configured. */
  stale: boolean;
  /** Times the revocation stream was reopened (ended, failed, or silent past `feedSilenceMs`). */
  feedReconnects: number;
  /** Why the stream last ended or failed, or `null`. */
  feedError: string | null;
  revocations: number;
  cachedTokens: number;
  /** DPoP proof ids remembered against replay. */
  dpopProofIds: number;
  jwksKeys: number;
  /** Milliseconds since the JWKS was last fetched successfully. */
  jwksAgeMs: number;
  /** Why the last JWKS fetch failed (the known keys stay in use meanwhile), or `null`. */
  jwksError: string | null;
}

/** A resource server's verifier of Tessera access tokens. */
export interface Verifier {
  /**
   * Verifies `token` and returns its claims; throws {@link VerifyError}: `invalid_token` for a bad,
   * expired, soft-expired (`token_soft_expired`) or revoked token, `temporarily_unavailable` when the
   * verifier cannot vouch for it (setup failed: the error's message says why; stale feed with
   * `onStale: 'reject'`; introspection unreachable).
   */
  verify(token: string): Promise<VerifiedClaims>;
  /**
   * Verifies a DPoP-bound token (RFC 9449 §7.1) presented as `Authorization: DPoP <token>` with the
   * request it came on: the token as {@link Verifier.verify} does (cached after its first check), then,
   * on every call, the request's `DPoP` proof: signed by the key `cnf.jkt` names, for this method and
   * URL (see the `publicUrl` option), fresh (`iat`), for this token (`ath`), never seen before (`jti`).
   * Throws {@link VerifyError}: `invalid_token` for a bad or unbound token, `invalid_dpop_proof` for a
   * missing or wrong proof, `temporarily_unavailable` as `verify`. Resource-server nonces (RFC 9449
   * §9) are not used.
   */
  verifyDpop(token: string, request: DpopRequestParts): Promise<VerifiedClaims>;
  /**
   * Resolves when the endpoints are discovered, the JWKS is loaded and (if enabled) the first
   * revocation snapshot is in. Rejects with an error whose message names the URL tried, what it
   * answered and the option to set (a {@link VerifyError} when setup failed, the same `verify` throws
   * meanwhile); calling it again retries.
   */
  ready(): Promise<void>;
  status(): VerifierStatus;
  /** The verifier's clock (ms since the epoch; the `now` option): what `requireAuth`'s `maxAge` is measured on. */
  now(): number;
  close(): Promise<void>;
}

/**
 * Creates a verifier: endpoints discovered from the issuer's RFC 8414 metadata (unless given), strict
 * local checks with keys from the issuer's JWKS (refetched as its `Cache-Control` says, within
 * bounds, so a key removed after `tessera keys rotate` stops verifying), revocations followed through
 * the feed and checked in memory on every call, a cache of verified tokens (a repeated token skips
 * the signature check until it expires; revocations, soft expiry and key removal still apply), and a
 * stated staleness bound past which it introspects or refuses.
 * @throws TypeError for an invalid option (the message names it).
 * @example
 * const verifier = createVerifier({ issuer: 'https://auth.example.com', audience: 'https://auth.example.com', serviceToken });
 * await verifier.ready();
 * const claims = await verifier.verify(token);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const o = resolveVerifierOptions(options);
  const { now, clockToleranceSeconds: tolerance } = o;
  const revocations = createRevocationSet();
  const cache = createTokenCache<{ claims: VerifiedClaims; key: JwksKey }>(o.tokenCacheSize);
  const setup = createVerifierSetup(o, revocations);
  const proofs = createDpopProofChecker(o);
  const stopping = new AbortController();
  let lastPruneMs = 0;

  const lag = (): number => {
    const feed = setup.feed();
    if (!feed) return o.feed ? Number.POSITIVE_INFINITY : 0;
    const last = feed.status().lastMessageAtMs;
    return last === 0 ? Number.POSITIVE_INFINITY : now() - last;
  };

  const introspect = async (token: string): Promise<boolean> => {
    const url = setup.endpoints()?.introspectionUrl ?? `${o.issuer}/oauth/introspect`;
    try {
      const { body } = await fetchJson(url, {
        fetch: o.fetch,
        method: 'POST',
        headers: { ...o.serviceHeaders, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
        timeoutMs: o.fetchTimeoutMs,
        signal: stopping.signal,
      });
      return (body as { active?: unknown } | null)?.active === true;
    } catch (cause) {
      throw new VerifyError('temporarily_unavailable', 'The issuer cannot be reached to check revocations.', {
        cause,
      });
    }
  };

  /** Checks that change with time or with the issuer's state: expiry, soft expiry, revocations. */
  const checkLive = (claims: VerifiedClaims, nowMs: number): void => {
    if (nowMs >= (claims.exp + tolerance) * 1000)
      throw new VerifyError('invalid_token', 'The access token expired.');
    // Same rule as the server's bearer routes, plus this verifier's clock tolerance.
    if (isSoftExpired(claims, nowMs, tolerance)) throw new VerifyError('invalid_token', TOKEN_SOFT_EXPIRED);
    const reason = revocations.reason(claims, nowMs);
    if (reason) throw new VerifyError('invalid_token', reason);
  };

  const verifyLocally = async (
    keys: JwksCache,
    token: string,
    nowMs: number,
  ): Promise<{ claims: VerifiedClaims; key: JwksKey }> => {
    const kid = readKeyId(token);
    if (kid === null) throw new VerifyError('invalid_token', 'The access token is malformed.');
    const key = await keys.get(kid);
    if (!key) throw new VerifyError('invalid_token', 'The access token names no known key.');
    try {
      const { payload } = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        typ: ACCESS_TOKEN_TYP,
        issuer: o.issuer,
        audience: o.audience,
        clockTolerance: tolerance,
        currentDate: new Date(nowMs),
        requiredClaims: [...REQUIRED_REGISTERED_CLAIMS],
      });
      const problem = checkTesseraClaims(payload, nowMs, tolerance);
      if (problem) throw new VerifyError('invalid_token', problem);
      return { claims: payload as VerifiedClaims, key };
    } catch (error) {
      if (error instanceof VerifyError) throw error;
      throw new VerifyError('invalid_token', describeVerificationError(error), { cause: error });
    }
  };

  const verifier: Verifier = {
    async verifyDpop(token, request) {
      const claims = await verifier.verify(token);
      await proofs.check(token, claims, request);
      return claims;
    },
    async verify(token) {
      const nowMs = now();
      const ready = setup.keys(nowMs);
      // The hot path takes no extra turn of the event loop once set up.
      const keys = ready instanceof Promise ? await ready : ready;
      if (nowMs - lastPruneMs > 5000) {
        revocations.prune(nowMs);
        lastPruneMs = nowMs;
      }
      if (o.feed && lag() > o.maxStalenessMs) {
        if (o.onStale === 'reject') {
          throw new VerifyError('temporarily_unavailable', 'Revocations are not current; try again shortly.');
        }
        // Signature and claims are still checked locally; introspection answers for revocation.
        const { claims } = await verifyLocally(keys, token, nowMs);
        checkLive(claims, nowMs);
        if (!(await introspect(token)))
          throw new VerifyError('invalid_token', 'The access token is not active.');
        return claims;
      }
      const cached = cache.get(token, nowMs)?.value;
      // A cached token stays good only while its key is still the one the JWKS publishes.
      if (cached && (keys.peek(cached.key.kid, nowMs) ?? (await keys.get(cached.key.kid))) === cached.key) {
        checkLive(cached.claims, nowMs);
        return cached.claims;
      }
      const verified = await verifyLocally(keys, token, nowMs);
      checkLive(verified.claims, nowMs);
      cache.set(token, { value: verified, expiresAtMs: (verified.claims.exp + tolerance) * 1000 });
      return verified.claims;
    },
    async ready() {
      await setup.run();
      const running = setup.feed();
      if (running === null) return;
      await running.ready.catch((error: unknown) => {
        // The feed recovered since its first snapshot failed: it is ready now.
        if (running.status().lastMessageAtMs !== 0) return;
        const message = error instanceof Error ? error.message : String(error);
        throw new VerifyError('temporarily_unavailable', 'Revocations are not current; try again shortly.', {
          message,
          cause: error,
        });
      });
    },
    status() {
      const feedLagMs = lag();
      const feedStatus = setup.feed()?.status();
      const keyStatus = setup.jwks()?.status();
      return {
        ready: setup.done(),
        setupError: setup.error(),
        feedConnected: feedStatus?.connected ?? false,
        feedLagMs,
        stale: o.feed && feedLagMs > o.maxStalenessMs,
        feedReconnects: feedStatus?.reconnects ?? 0,
        feedError: feedStatus?.lastError ?? null,
        revocations: revocations.size(),
        cachedTokens: cache.size(),
        dpopProofIds: proofs.size(),
        jwksKeys: keyStatus?.keys ?? 0,
        jwksAgeMs: keyStatus?.ageMs ?? Number.POSITIVE_INFINITY,
        jwksError: keyStatus?.lastError ?? null,
      };
    },
    now: () => now(),
    async close() {
      stopping.abort();
      setup.close();
      cache.clear();
      proofs.clear();
    },
  };
  return verifier;
}
