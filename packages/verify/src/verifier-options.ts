import {
  DEFAULT_DPOP_PROOF_MAX_AGE_SECONDS,
  FEED_HEARTBEAT_INTERVAL_MS,
  MAX_CLOCK_LEEWAY_SECONDS,
} from '@tessera/protocol';

/** Options of `createVerifier`. */
export interface VerifierOptions {
  /**
   * The issuer (`iss` of the tokens), e.g. `https://auth.example.com`. The verifier discovers its
   * endpoints from the issuer's RFC 8414 metadata unless the URLs below are given.
   */
  issuer: string;
  /** The expected `aud`. */
  audience: string;
  /** The issuer's JWKS. Default: `jwks_uri` from the issuer's metadata. */
  jwksUrl?: string;
  /**
   * The revocation snapshot (the stream is `<that>/stream`). Default: `tessera_revocations_endpoint`
   * from the issuer's metadata, else `<issuer>/auth/revocations`.
   */
  revocationsUrl?: string;
  /** RFC 7662 introspection. Default: `introspection_endpoint` from the metadata, else `<issuer>/oauth/introspect`. */
  introspectionUrl?: string;
  /** Bearer token for the feed and introspection (`TESSERA_SERVICE_TOKEN`). */
  serviceToken?: string | undefined;
  /** Accepted algorithms. Default EdDSA, ES256, RS256. */
  algorithms?: readonly string[];
  /** Clock skew allowed on `exp`/`nbf`/`iat`/`softexp`, seconds. Default 2, at most 60. */
  clockToleranceSeconds?: number;
  /** The staleness bound: feed silence longer than this is "stale". Default 30,000 ms. */
  maxStalenessMs?: number;
  /** What to do when stale: ask the issuer per token (RFC 7662), or refuse. Default `introspect`. */
  onStale?: 'introspect' | 'reject';
  /** Verified tokens kept in memory. Default 100,000. */
  tokenCacheSize?: number;
  /** Follow the revocation feed. Default true. */
  feed?: boolean;
  /** Bound on every request the verifier makes (discovery, JWKS, snapshot, introspection), ms. Default 5,000. */
  fetchTimeoutMs?: number;
  /** Shortest time the JWKS is kept before it is fetched again, whatever `Cache-Control` says, seconds. Default 30. */
  jwksMinCacheSeconds?: number;
  /** Longest time the JWKS is kept before it is fetched again, seconds. Default 3,600. */
  jwksMaxCacheSeconds?: number;
  /**
   * Silence after which the revocation stream counts as dead (a half-open connection): it is dropped
   * and reconnected, ms. Default 15,000 (three of the server's 5-second heartbeats).
   */
  feedSilenceMs?: number;
  /**
   * DPoP (RFC 9449): the URL clients address this service by, origin plus any path prefix a proxy
   * strips (e.g. `https://api.example.com` or `https://example.com/orders-api`); a proof's `htu` must
   * equal it followed by the request's path. Set it behind a proxy or a TLS terminator. Default: the
   * URL the request itself names (a web `Request`'s URL; the `Host` header and the socket's TLS on
   * Node), or the forwarded one with `trustForwardedHeaders`.
   */
  publicUrl?: string;
  /**
   * DPoP: take the scheme and host from `Forwarded` (RFC 7239), else `X-Forwarded-Proto` /
   * `X-Forwarded-Host` (their first value). Only behind a proxy that overwrites those headers: a client
   * could send them itself. Ignored when `publicUrl` is set. Default false.
   */
  trustForwardedHeaders?: boolean;
  /** DPoP: how old a proof's `iat` may be, seconds (its `jti` is remembered that long). Default 60. */
  dpopProofMaxAgeSeconds?: number;
  /** DPoP: proof ids (`jti`) remembered against replay, at most. Default 100,000. */
  dpopReplayCacheSize?: number;
  fetch?: typeof fetch;
  /** Clock (ms since the epoch). Default `Date.now`. */
  now?: () => number;
}

/** Every option resolved: defaults filled, values checked. */
export interface ResolvedVerifierOptions {
  issuer: string;
  audience: string;
  jwksUrl: string | null;
  revocationsUrl: string | null;
  introspectionUrl: string | null;
  serviceHeaders: Readonly<Record<string, string>>;
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  maxStalenessMs: number;
  onStale: 'introspect' | 'reject';
  tokenCacheSize: number;
  feed: boolean;
  fetchTimeoutMs: number;
  jwksMinCacheMs: number;
  jwksMaxCacheMs: number;
  /** Used when the JWKS answer has no `max-age` (then clamped to the bounds). */
  jwksDefaultCacheMs: number;
  /** Least time between JWKS fetches caused by unknown `kid`s or failures. */
  jwksCooldownMs: number;
  feedSilenceMs: number;
  /** Without a trailing slash, or `null`. */
  publicUrl: string | null;
  trustForwardedHeaders: boolean;
  dpopProofMaxAgeSeconds: number;
  dpopReplayCacheSize: number;
  fetch: typeof fetch;
  now: () => number;
}

/** The defaults of {@link VerifierOptions}, in one place. */
export const VERIFIER_DEFAULTS: Readonly<{
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  maxStalenessMs: number;
  tokenCacheSize: number;
  fetchTimeoutMs: number;
  jwksMinCacheSeconds: number;
  jwksMaxCacheSeconds: number;
  jwksDefaultCacheSeconds: number;
  jwksCooldownMs: number;
  feedSilenceMs: number;
  dpopProofMaxAgeSeconds: number;
  dpopReplayCacheSize: number;
}> = Object.freeze({
  algorithms: Object.freeze(['EdDSA', 'ES256', 'RS256']),
  clockToleranceSeconds: 2,
  maxStalenessMs: 30_000,
  tokenCacheSize: 100_000,
  fetchTimeoutMs: 5000,
  jwksMinCacheSeconds: 30,
  jwksMaxCacheSeconds: 3600,
  jwksDefaultCacheSeconds: 300,
  jwksCooldownMs: 10_000,
  feedSilenceMs: 3 * FEED_HEARTBEAT_INTERVAL_MS,
  dpopProofMaxAgeSeconds: DEFAULT_DPOP_PROOF_MAX_AGE_SECONDS,
  dpopReplayCacheSize: 100_000,
});

function number(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`createVerifier: ${name} must be a number from ${min} to ${max}.`);
  }
  return value;
}

function httpUrl(name: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`createVerifier: ${name} must be an absolute http(s) URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`createVerifier: ${name} must be an absolute http(s) URL.`);
  }
  return value;
}

/**
 * Validates `options` and fills the defaults of {@link VERIFIER_DEFAULTS}.
 * @throws TypeError naming the option that is wrong.
 */
export function resolveVerifierOptions(options: VerifierOptions): ResolvedVerifierOptions {
  if (typeof options.issuer !== 'string') throw new TypeError('createVerifier: issuer is required.');
  const issuer = options.issuer.replace(/\/+$/, '');
  const issuerUrl = httpUrl('issuer', issuer);
  if (issuerUrl === null || new URL(issuer).search || new URL(issuer).hash) {
    throw new TypeError('createVerifier: issuer must be an http(s) URL without query or fragment.');
  }
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new TypeError('createVerifier: audience is required.');
  }
  const d = VERIFIER_DEFAULTS;
  const jwksMinCacheSeconds = number(
    'jwksMinCacheSeconds',
    options.jwksMinCacheSeconds,
    d.jwksMinCacheSeconds,
    0,
    86_400,
  );
  const jwksMaxCacheSeconds = number(
    'jwksMaxCacheSeconds',
    options.jwksMaxCacheSeconds,
    d.jwksMaxCacheSeconds,
    0,
    86_400,
  );
  if (jwksMinCacheSeconds > jwksMaxCacheSeconds) {
    throw new TypeError('createVerifier: jwksMinCacheSeconds must not exceed jwksMaxCacheSeconds.');
  }
  if (options.onStale !== undefined && options.onStale !== 'introspect' && options.onStale !== 'reject') {
    throw new TypeError('createVerifier: onStale must be "introspect" or "reject".');
  }
  const publicUrl = httpUrl('publicUrl', options.publicUrl)?.replace(/\/+$/, '') ?? null;
  if (publicUrl !== null && (new URL(publicUrl).search || new URL(publicUrl).hash)) {
    throw new TypeError('createVerifier: publicUrl must be an http(s) URL without query or fragment.');
  }
  if (options.trustForwardedHeaders !== undefined && typeof options.trustForwardedHeaders !== 'boolean') {
    throw new TypeError('createVerifier: trustForwardedHeaders must be a boolean.');
  }
  const algorithms = options.algorithms ?? d.algorithms;
  if (algorithms.length === 0)
    throw new TypeError('createVerifier: algorithms must name at least one algorithm.');
  return Object.freeze({
    issuer,
    audience: options.audience,
    jwksUrl: httpUrl('jwksUrl', options.jwksUrl),
    revocationsUrl: httpUrl('revocationsUrl', options.revocationsUrl),
    introspectionUrl: httpUrl('introspectionUrl', options.introspectionUrl),
    serviceHeaders: Object.freeze(
      options.serviceToken ? { authorization: `Bearer ${options.serviceToken}` } : {},
    ),
    algorithms: Object.freeze([...algorithms]),
    clockToleranceSeconds: number(
      'clockToleranceSeconds',
      options.clockToleranceSeconds,
      d.clockToleranceSeconds,
      0,
      MAX_CLOCK_LEEWAY_SECONDS,
    ),
    maxStalenessMs: number('maxStalenessMs', options.maxStalenessMs, d.maxStalenessMs, 0, 86_400_000),
    onStale: options.onStale === 'reject' ? 'reject' : 'introspect',
    tokenCacheSize: number('tokenCacheSize', options.tokenCacheSize, d.tokenCacheSize, 0, 10_000_000),
    feed: options.feed !== false,
    fetchTimeoutMs: number('fetchTimeoutMs', options.fetchTimeoutMs, d.fetchTimeoutMs, 1, 600_000),
    jwksMinCacheMs: jwksMinCacheSeconds * 1000,
    jwksMaxCacheMs: jwksMaxCacheSeconds * 1000,
    jwksDefaultCacheMs: d.jwksDefaultCacheSeconds * 1000,
    jwksCooldownMs: d.jwksCooldownMs,
    feedSilenceMs: number('feedSilenceMs', options.feedSilenceMs, d.feedSilenceMs, 1, 3_600_000),
    publicUrl,
    trustForwardedHeaders: options.trustForwardedHeaders === true,
    dpopProofMaxAgeSeconds: number(
      'dpopProofMaxAgeSeconds',
      options.dpopProofMaxAgeSeconds,
      d.dpopProofMaxAgeSeconds,
      1,
      3600,
    ),
    dpopReplayCacheSize: number(
      'dpopReplayCacheSize',
      options.dpopReplayCacheSize,
      d.dpopReplayCacheSize,
      1,
      10_000_000,
    ),
    fetch: options.fetch ?? ((input: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(input, init)),
    now: options.now ?? Date.now,
  });
}
