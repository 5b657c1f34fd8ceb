import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { TesseraError } from '../errors.ts';
import { boolean, configError, show, wholeNumber } from '../internal/option-checks.ts';

/** An identity provider whose ID tokens the engine accepts (RFC 8693 exchange, `TESSERA_TRUSTED_ISSUERS`). */
export interface TrustedIssuer {
  /** The provider's `iss`, compared exactly: an https URL (http only on loopback), no query or fragment. */
  issuer: string;
  /** The `aud` its ID tokens must carry for this app: the client id the app has at the provider. */
  audience: string;
  /** Where its keys are. Default: the `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string | undefined;
  /**
   * Link a first sign-in to the existing account with the same email, when the ID token says the email
   * is verified AND the account's email is verified too. Default false: never merge.
   */
  mergeByEmail?: boolean | undefined;
  /** Signature algorithms accepted. Default: what discovery lists, within {@link ID_TOKEN_ALGORITHMS}. */
  algorithms?: readonly string[] | undefined;
}

/** A {@link TrustedIssuer} checked and completed. */
export interface ResolvedTrustedIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string | null;
  readonly mergeByEmail: boolean;
  /** `null`: discovery's list (or every asymmetric algorithm when it lists none). */
  readonly algorithms: readonly string[] | null;
}

/** How the engine reaches providers (seconds). */
export interface TrustedIssuerFetch {
  /** Longest wait for a discovery document or a JWKS. Default 5. */
  timeoutSeconds: number;
  /** A JWKS is fetched again when older than this (and discovery after an hour). Default 600. */
  cacheSeconds: number;
  /** A token naming an unknown `kid` refetches the JWKS, at most once per this. Default 30. */
  cooldownSeconds: number;
}

/**
 * Algorithms an ID token may be signed with: asymmetric only. Never `none`, never `HS*` (a key shared
 * with the client would let the client mint ID tokens; OpenID Connect Core §10.1).
 */
export const ID_TOKEN_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

const MAX_ISSUERS = 50;
const DISCOVERY_TTL_MS = 3_600_000;
// A provider that failed is asked again only after this, so a burst of sign-ins does not hammer it.
const FAILURE_COOLDOWN_MS = 5_000;
const MAX_DOCUMENT_BYTES = 256 * 1024;

/** True for an https URL, or http on a loopback host (a provider on the same machine, tests). */
function isAcceptableProviderUrl(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function providerUrl(option: string, value: unknown): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (!url || !isAcceptableProviderUrl(url) || url.search || url.hash || url.username || url.password) {
    throw configError(
      option,
      `must be an https URL (http only on loopback) without query, fragment or credentials; got ${show(value)}.`,
    );
  }
  return value as string;
}

/**
 * Checks the `trustedIssuers` option (also `TESSERA_TRUSTED_ISSUERS` once parsed): at most 50 distinct
 * issuers, each with an https `issuer` (http on loopback), an `audience` of 1 to 256 printable ASCII
 * characters, an optional https `jwksUri`, a boolean `mergeByEmail` and `algorithms` from
 * {@link ID_TOKEN_ALGORITHMS}. Throws `invalid_configuration` whose `field` names the entry
 * (`trustedIssuers[1].audience`).
 */
export function resolveTrustedIssuers(value: unknown): readonly ResolvedTrustedIssuer[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value) || value.length > MAX_ISSUERS) {
    throw configError('trustedIssuers', `must be an array of at most ${MAX_ISSUERS} issuers.`);
  }
  const seen = new Set<string>();
  return Object.freeze(
    value.map((entry: unknown, index) => {
      const at = `trustedIssuers[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw configError(
          at,
          'must be an object { issuer, audience, jwksUri?, mergeByEmail?, algorithms? }.',
        );
      }
      const given = entry as Record<string, unknown>;
      const known = ['issuer', 'audience', 'jwksUri', 'mergeByEmail', 'algorithms'];
      const unknown = Object.keys(given).find((key) => !known.includes(key));
      if (unknown !== undefined)
        throw configError(`${at}.${unknown}`, `is not a setting; use ${known.join(', ')}.`);
      const issuer = providerUrl(`${at}.issuer`, given.issuer);
      if (seen.has(issuer)) throw configError(`${at}.issuer`, `lists ${show(issuer)} twice.`);
      seen.add(issuer);
      if (typeof given.audience !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(given.audience)) {
        throw configError(
          `${at}.audience`,
          `must be 1 to 256 printable ASCII characters; got ${show(given.audience)}.`,
        );
      }
      let algorithms: readonly string[] | null = null;
      if (given.algorithms !== undefined) {
        const list = given.algorithms;
        if (
          !Array.isArray(list) ||
          list.length === 0 ||
          !list.every((alg) => typeof alg === 'string' && ID_TOKEN_ALGORITHMS.includes(alg))
        ) {
          throw configError(`${at}.algorithms`, `must list some of ${ID_TOKEN_ALGORITHMS.join(', ')}.`);
        }
        algorithms = Object.freeze([...new Set(list as string[])]);
      }
      return Object.freeze({
        issuer,
        audience: given.audience,
        jwksUri: given.jwksUri === undefined ? null : providerUrl(`${at}.jwksUri`, given.jwksUri),
        mergeByEmail:
          given.mergeByEmail === undefined ? false : boolean(`${at}.mergeByEmail`, given.mergeByEmail),
        algorithms,
      });
    }),
  );
}

/** Checks `trustedIssuerFetch`: timeout 1–60 s, cache 0–1 day, cooldown 0–1 hour. */
export function resolveTrustedIssuerFetch(
  value: Partial<TrustedIssuerFetch> | undefined,
  defaults: TrustedIssuerFetch,
): Readonly<TrustedIssuerFetch> {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw configError('trustedIssuerFetch', 'must be { timeoutSeconds?, cacheSeconds?, cooldownSeconds? }.');
  }
  const given = value ?? {};
  return Object.freeze({
    timeoutSeconds: wholeNumber(
      'trustedIssuerFetch.timeoutSeconds',
      given.timeoutSeconds ?? defaults.timeoutSeconds,
      1,
      60,
      'seconds',
    ),
    cacheSeconds: wholeNumber(
      'trustedIssuerFetch.cacheSeconds',
      given.cacheSeconds ?? defaults.cacheSeconds,
      0,
      86_400,
      'seconds',
    ),
    cooldownSeconds: wholeNumber(
      'trustedIssuerFetch.cooldownSeconds',
      given.cooldownSeconds ?? defaults.cooldownSeconds,
      0,
      3600,
      'seconds',
    ),
  });
}

/** The keys of one provider and the algorithms its ID tokens may use. */
export interface IssuerKeys {
  getKey: JWTVerifyGetKey;
  algorithms: string[];
}

/** The trusted providers of one engine, with their discovery documents and JWKS cached. */
export interface TrustedIssuerRegistry {
  /** The provider whose `issuer` is exactly `iss`, or `null`: an untrusted issuer is never fetched from. */
  find(iss: unknown): ResolvedTrustedIssuer | null;
  /** Its keys (discovery first when no `jwksUri` is set). Throws `service_unavailable` when the provider cannot be reached. */
  keys(issuer: ResolvedTrustedIssuer): Promise<IssuerKeys>;
}

/** The `service_unavailable` a provider outage answers: the caller did nothing wrong and may retry. */
export function providerUnavailable(cause: unknown): TesseraError {
  return new TesseraError(
    'service_unavailable',
    'The identity provider could not be reached; try again shortly.',
    { cause, retryAfterSeconds: 5 },
  );
}

async function fetchDiscovery(
  issuer: ResolvedTrustedIssuer,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  // OpenID Connect Discovery 1.0 §4: the issuer, a trailing slash removed, plus the well-known path.
  const url = `${issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
    headers: { accept: 'application/json' },
  });
  if (response.status !== 200) throw new Error(`discovery answered ${response.status}`);
  if (Number(response.headers.get('content-length') ?? 0) > MAX_DOCUMENT_BYTES) {
    throw new Error('discovery document too large');
  }
  const text = await response.text();
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error('discovery document too large');
  const document = JSON.parse(text) as unknown;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new Error('discovery document is not an object');
  }
  return document as Record<string, unknown>;
}

interface CachedKeys {
  keys: IssuerKeys;
  jwksUri: string;
  expiresAtMs: number;
}

/**
 * Creates the registry of trusted providers. Discovery documents are fetched lazily, kept an hour, and
 * must name the configured issuer (Discovery §4.3); JWKS go through `jose`'s remote key set (cached for
 * `cacheSeconds`, refetched for an unknown `kid` at most once per `cooldownSeconds`, each fetch bounded
 * by `timeoutSeconds`, no redirects).
 */
export function createTrustedIssuerRegistry(
  issuers: readonly ResolvedTrustedIssuer[],
  fetchOptions: Readonly<TrustedIssuerFetch>,
): TrustedIssuerRegistry {
  const byIssuer = new Map(issuers.map((issuer) => [issuer.issuer, issuer]));
  const cached = new Map<string, CachedKeys>();
  const pending = new Map<string, Promise<CachedKeys>>();
  const failedAtMs = new Map<string, { atMs: number; error: unknown }>();
  const timeoutMs = fetchOptions.timeoutSeconds * 1000;

  const remoteKeySet = (jwksUri: string): JWTVerifyGetKey =>
    createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: timeoutMs,
      cacheMaxAge: fetchOptions.cacheSeconds * 1000,
      cooldownDuration: fetchOptions.cooldownSeconds * 1000,
    });

  const load = async (issuer: ResolvedTrustedIssuer): Promise<CachedKeys> => {
    const previous = cached.get(issuer.issuer);
    if (issuer.jwksUri !== null) {
      return {
        keys: {
          getKey: remoteKeySet(issuer.jwksUri),
          algorithms: [...(issuer.algorithms ?? ID_TOKEN_ALGORITHMS)],
        },
        jwksUri: issuer.jwksUri,
        expiresAtMs: Number.POSITIVE_INFINITY,
      };
    }
    const document = await fetchDiscovery(issuer, timeoutMs);
    if (document.issuer !== issuer.issuer) throw new Error('discovery names another issuer');
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== 'string' || !isAcceptableProviderUrl(new URL(jwksUri))) {
      throw new Error('discovery has no acceptable jwks_uri');
    }
    const listed = document.id_token_signing_alg_values_supported;
    const algorithms =
      issuer.algorithms ??
      (Array.isArray(listed)
        ? ID_TOKEN_ALGORITHMS.filter((alg) => listed.includes(alg))
        : [...ID_TOKEN_ALGORITHMS]);
    // Keep the key set (and what it cached) while the provider keeps its jwks_uri.
    const getKey = previous && previous.jwksUri === jwksUri ? previous.keys.getKey : remoteKeySet(jwksUri);
    return {
      keys: { getKey, algorithms: [...algorithms] },
      jwksUri,
      expiresAtMs: Date.now() + DISCOVERY_TTL_MS,
    };
  };

  return {
    find(iss) {
      return typeof iss === 'string' ? (byIssuer.get(iss) ?? null) : null;
    },
    async keys(issuer) {
      const hit = cached.get(issuer.issuer);
      if (hit && hit.expiresAtMs > Date.now()) return hit.keys;
      const failed = failedAtMs.get(issuer.issuer);
      if (failed && Date.now() - failed.atMs < FAILURE_COOLDOWN_MS) {
        // Still within the last failure's cooldown: serve the stale keys if any, else the failure.
        if (hit) return hit.keys;
        throw providerUnavailable(failed.error);
      }
      let loading = pending.get(issuer.issuer);
      if (!loading) {
        loading = load(issuer).finally(() => pending.delete(issuer.issuer));
        pending.set(issuer.issuer, loading);
      }
      try {
        const loaded = await loading;
        cached.set(issuer.issuer, loaded);
        failedAtMs.delete(issuer.issuer);
        return loaded.keys;
      } catch (error) {
        failedAtMs.set(issuer.issuer, { atMs: Date.now(), error });
        if (hit) return hit.keys;
        throw providerUnavailable(error);
      }
    },
  };
}
