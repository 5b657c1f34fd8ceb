import { type CryptoKey, importJWK, type JWK } from 'jose';

/** A verification key with the one algorithm it may be used with. */
export interface JwksKey {
  alg: string;
  key: CryptoKey | Uint8Array;
}

/** The issuer's public keys, fetched once and again on an unknown `kid` (rate limited). */
export interface JwksCache {
  /** The key for `kid`, refetching the JWKS at most once per `minRefetchMs` for unknown ones. */
  get(kid: string): Promise<JwksKey | null>;
  /** Fetches the JWKS now. */
  refresh(): Promise<void>;
  size(): number;
}

/** Options of {@link createJwksCache}. */
export interface JwksCacheOptions {
  url: string;
  /** Algorithms accepted at all; a JWK with another `alg` (or none) is ignored. */
  algorithms: readonly string[];
  fetch: typeof fetch;
  now: () => number;
  /** Default 10 s. */
  minRefetchMs?: number;
}

/**
 * Creates a JWKS cache. Keys are taken only from the JWKS, each bound to its own `alg`; a token header
 * can never supply a key. Concurrent misses share one fetch.
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  let keys = new Map<string, JwksKey>();
  let lastFetchMs = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | null = null;
  const minRefetchMs = options.minRefetchMs ?? 10_000;

  const load = async (): Promise<void> => {
    lastFetchMs = options.now();
    const response = await options.fetch(options.url, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`JWKS fetch failed with ${response.status}`);
    const body = (await response.json()) as { keys?: JWK[] };
    const next = new Map<string, JwksKey>();
    for (const jwk of body.keys ?? []) {
      if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string' || !options.algorithms.includes(jwk.alg))
        continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      try {
        next.set(jwk.kid, { alg: jwk.alg, key: await importJWK(jwk, jwk.alg) });
      } catch {
        // A key we cannot import cannot verify anything: skip it.
      }
    }
    keys = next;
  };
  const refresh = (): Promise<void> => {
    inflight ??= load().finally(() => {
      inflight = null;
    });
    return inflight;
  };
  return {
    async get(kid) {
      const known = keys.get(kid);
      if (known) return known;
      if (inflight) await inflight.catch(() => undefined);
      else if (options.now() - lastFetchMs >= minRefetchMs) await refresh().catch(() => undefined);
      return keys.get(kid) ?? null;
    },
    refresh,
    size: () => keys.size,
  };
}
