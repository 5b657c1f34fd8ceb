import { type CryptoKey, importJWK, type JWK } from 'jose';
import { type CacheBounds, cacheLifetimeMs } from './cache-lifetime.ts';
import { displayUrl, FetchFailure, fetchJson } from './fetch-json.ts';

/** A verification key with the one algorithm it may be used with. */
export interface JwksKey {
  kid: string;
  alg: string;
  key: CryptoKey | Uint8Array;
}

/** What the cache reports about itself. */
export interface JwksCacheStatus {
  keys: number;
  /** Milliseconds since the last successful fetch; Infinity before the first. */
  ageMs: number;
  /** Why the last fetch failed, or `null` when it succeeded (the keys then are current). */
  lastError: string | null;
}

/**
 * The issuer's public keys, kept in step with its JWKS: fetched again when the answer's
 * `Cache-Control` lifetime runs out (within bounds), and on an unknown `kid` (rate limited). A key
 * that left the JWKS is dropped at the next fetch. When the JWKS cannot be fetched, the keys already
 * known stay in use (and the failure is reported) while fetches are retried.
 */
export interface JwksCache {
  /** The key for `kid`, or `null` when the JWKS has none (after refetching, within the limits). */
  get(kid: string): Promise<JwksKey | null>;
  /**
   * The key for `kid` when it is known and the JWKS is still fresh at `nowMs`, without waiting; else
   * `undefined` (then call `get`).
   */
  peek(kid: string, nowMs: number): JwksKey | undefined;
  /** Fetches the JWKS now; rejects with a {@link FetchFailure} saying what went wrong. */
  load(): Promise<void>;
  status(): JwksCacheStatus;
  /** Stops the refresh timer and aborts a fetch under way. */
  close(): void;
}

/** Options of {@link createJwksCache}. */
export interface JwksCacheOptions {
  url: string;
  /** Algorithms accepted at all; a JWK with another `alg` (or none) is ignored. */
  algorithms: readonly string[];
  fetch: typeof fetch;
  now: () => number;
  /** Bound on one fetch, ms. */
  timeoutMs: number;
  /** How long a fetched JWKS is used before it is fetched again. */
  lifetime: CacheBounds;
  /** Least time between fetches caused by an unknown `kid` or a failure, ms. */
  cooldownMs: number;
}

/**
 * Creates a JWKS cache. Keys are taken only from the JWKS, each bound to its own `alg`; a token header
 * can never supply a key. At most one fetch runs at a time and every fetch ends within `timeoutMs`, so
 * a hung endpoint neither piles up requests nor holds verification: known keys keep verifying, and an
 * unknown `kid` fails once the fetch times out.
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  let keys = new Map<string, JwksKey>();
  // The JWK text each key was imported from: an unchanged key keeps its object across fetches, so
  // tokens verified with it stay cached.
  let sources = new Map<string, string>();
  let fetchedAtMs = Number.NEGATIVE_INFINITY;
  let lifetimeMs = 0;
  let lastAttemptMs = Number.NEGATIVE_INFINITY;
  let lastError: string | null = null;
  let inflight: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const stop = new AbortController();

  const fetchKeys = async (): Promise<void> => {
    lastAttemptMs = options.now();
    const { response, body } = await fetchJson(options.url, {
      fetch: options.fetch,
      headers: { accept: 'application/jwk-set+json, application/json' },
      timeoutMs: options.timeoutMs,
      signal: stop.signal,
    });
    const list = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) {
      throw new FetchFailure(
        `GET ${displayUrl(options.url)} answered ${response.status} with no "keys" array`,
        null,
      );
    }
    const nextKeys = new Map<string, JwksKey>();
    const nextSources = new Map<string, string>();
    for (const jwk of list as JWK[]) {
      if (typeof jwk !== 'object' || jwk === null) continue;
      if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string' || !options.algorithms.includes(jwk.alg))
        continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      const source = JSON.stringify(jwk);
      const known = keys.get(jwk.kid);
      if (known && sources.get(jwk.kid) === source) {
        nextKeys.set(jwk.kid, known);
      } else {
        try {
          nextKeys.set(jwk.kid, { kid: jwk.kid, alg: jwk.alg, key: await importJWK(jwk, jwk.alg) });
        } catch {
          continue; // a key we cannot import cannot verify anything
        }
      }
      nextSources.set(jwk.kid, source);
    }
    keys = nextKeys;
    sources = nextSources;
    fetchedAtMs = options.now();
    lifetimeMs = cacheLifetimeMs(response.headers, options.lifetime);
  };

  const schedule = (delayMs: number): void => {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(() => {
      refresh().catch(() => undefined);
    }, delayMs);
    timer.unref?.();
  };

  /** Starts a fetch (or joins the one under way); settles within the timeout. */
  const refresh = (): Promise<void> => {
    inflight ??= fetchKeys().then(
      () => {
        lastError = null;
        inflight = null;
        // Refetch in the background a little before the lifetime ends, so requests rarely wait.
        schedule(Math.max(options.cooldownMs, lifetimeMs * 0.9));
      },
      (error: unknown) => {
        lastError = error instanceof Error ? error.message : String(error);
        inflight = null;
        schedule(options.cooldownMs);
        throw error;
      },
    );
    return inflight;
  };

  return {
    async get(kid) {
      const nowMs = options.now();
      const expired = nowMs - fetchedAtMs >= lifetimeMs;
      const known = keys.get(kid);
      if (known && !expired) return known;
      const coolingDown = nowMs - lastAttemptMs < options.cooldownMs;
      if (inflight) {
        // While the JWKS is failing, known keys do not wait for each retry.
        if (!known || lastError === null) await inflight.catch(() => undefined);
      } else if (!(known ? lastError !== null && coolingDown : coolingDown)) {
        const attempt = refresh();
        if (!known || lastError === null) await attempt.catch(() => undefined);
        else attempt.catch(() => undefined);
      }
      return keys.get(kid) ?? null;
    },
    peek: (kid, nowMs) => (nowMs - fetchedAtMs < lifetimeMs ? keys.get(kid) : undefined),
    load: () => refresh(),
    status: () => ({
      keys: keys.size,
      ageMs:
        fetchedAtMs === Number.NEGATIVE_INFINITY ? Number.POSITIVE_INFINITY : options.now() - fetchedAtMs,
      lastError,
    }),
    close() {
      closed = true;
      clearTimeout(timer);
      stop.abort();
    },
  };
}
