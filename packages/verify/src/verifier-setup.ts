import { type IssuerEndpoints, resolveEndpoints } from './discovery.ts';
import { VerifyError } from './errors.ts';
import { type Feed, startFeed } from './feed-client.ts';
import { displayUrl, FetchFailure } from './fetch-json.ts';
import { createJwksCache, type JwksCache } from './jwks-cache.ts';
import type { RevocationSet } from './revocation-set.ts';
import type { ResolvedVerifierOptions } from './verifier-options.ts';

/** What callers see while the verifier is not set up; the operator's sentence is the error's message. */
const NOT_READY = 'The service cannot verify access tokens yet; try again shortly.';

/** A verifier's connection to its issuer: endpoints, keys and feed, set up once and retried on failure. */
export interface VerifierSetup {
  /** Starts setup, or joins the run under way; rejects with a {@link VerifyError} whose message says why. */
  run(): Promise<void>;
  /**
   * The keys, once setup succeeded (at once on the hot path); a failed setup is retried at most once
   * per cooldown, otherwise this throws the setup's {@link VerifyError}.
   */
  keys(nowMs: number): JwksCache | Promise<JwksCache>;
  endpoints(): IssuerEndpoints | null;
  jwks(): JwksCache | null;
  feed(): Feed | null;
  done(): boolean;
  error(): string | null;
  close(): void;
}

/**
 * Creates the setup of a verifier and starts it: endpoints from the options or the issuer's metadata,
 * then the revocation feed, then the first JWKS fetch, which must yield a usable key.
 */
export function createVerifierSetup(o: ResolvedVerifierOptions, revocations: RevocationSet): VerifierSetup {
  const stopping = new AbortController();
  let endpoints: IssuerEndpoints | null = null;
  let jwks: JwksCache | null = null;
  let feed: Feed | null = null;
  let running: Promise<void> | null = null;
  let error: string | null = null;
  let done = false;
  let attemptMs = Number.NEGATIVE_INFINITY;

  const loadKeys = async (keys: JwksCache, url: string): Promise<void> => {
    try {
      await keys.load();
    } catch (cause) {
      const what = cause instanceof Error ? cause.message : String(cause);
      throw new FetchFailure(
        `Cannot load the issuer's signing keys: ${what}. Set the jwksUrl option of createVerifier() to the issuer's JWKS.`,
        null,
      );
    }
    if (keys.status().keys === 0) {
      throw new FetchFailure(
        `Cannot load the issuer's signing keys: GET ${displayUrl(url)} answered no ${o.algorithms.join(', ')} signing key. Check the algorithms option of createVerifier().`,
        null,
      );
    }
  };

  const attempt = async (): Promise<void> => {
    attemptMs = o.now();
    endpoints ??= await resolveEndpoints({
      issuer: o.issuer,
      jwksUrl: o.jwksUrl,
      revocationsUrl: o.revocationsUrl,
      introspectionUrl: o.introspectionUrl,
      feed: o.feed,
      fetch: o.fetch,
      timeoutMs: o.fetchTimeoutMs,
      signal: stopping.signal,
    });
    if (stopping.signal.aborted) throw new Error('The verifier is closed.');
    jwks ??= createJwksCache({
      url: endpoints.jwksUrl,
      algorithms: o.algorithms,
      fetch: o.fetch,
      now: o.now,
      timeoutMs: o.fetchTimeoutMs,
      lifetime: { minMs: o.jwksMinCacheMs, maxMs: o.jwksMaxCacheMs, defaultMs: o.jwksDefaultCacheMs },
      cooldownMs: o.jwksCooldownMs,
    });
    if (o.feed && !feed) {
      feed = startFeed({
        revocationsUrl: endpoints.revocationsUrl,
        streamUrl: endpoints.streamUrl,
        headers: o.serviceHeaders,
        set: revocations,
        fetch: o.fetch,
        now: o.now,
        timeoutMs: o.fetchTimeoutMs,
        silenceMs: o.feedSilenceMs,
      });
      feed.ready.catch(() => undefined);
    }
    await loadKeys(jwks, endpoints.jwksUrl);
  };

  const notReady = (): VerifyError =>
    new VerifyError('temporarily_unavailable', NOT_READY, { message: error ?? NOT_READY });

  const run = (): Promise<void> => {
    running ??= attempt().then(
      () => {
        error = null;
        done = true;
      },
      (cause: unknown) => {
        error = cause instanceof Error ? cause.message : String(cause);
        // Forget the failed run, so the next call retries.
        running = null;
        throw notReady();
      },
    );
    return running;
  };
  run().catch(() => undefined);

  return {
    run,
    keys(nowMs) {
      if (done && jwks) return jwks;
      if (running === null && nowMs - attemptMs < o.jwksCooldownMs) throw notReady();
      return run().then(() => jwks as JwksCache);
    },
    endpoints: () => endpoints,
    jwks: () => jwks,
    feed: () => feed,
    done: () => done,
    error: () => error,
    close() {
      stopping.abort();
      feed?.stop();
      jwks?.close();
    },
  };
}
