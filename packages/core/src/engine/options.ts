import type { Clock } from '../clock.ts';
import type { EventListener } from '../events.ts';
import { type Argon2Params, OWASP_ARGON2ID, type PasswordHasher } from '../password.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { RevocationBus } from '../revocation-bus.ts';
import type { Store } from '../store/store.ts';
import type { SigningAlg } from '../tokens/keyring.ts';
import type {
  AccountLifecycleOptions,
  ResolvedAccountLifecycleOptions,
} from './account-lifecycle-options.ts';
import type { DpopMode } from './dpop.ts';
import type { PolicyName } from './policies/registry.ts';
import { DEFAULT_RATE_LIMITS, type RateLimits } from './rate-limits.ts';
import type { ResolvedTrustedIssuer, TrustedIssuer, TrustedIssuerFetch } from './trusted-issuers.ts';

/**
 * Options of {@link createEngine}, checked by {@link resolveEngineOptions}. Durations are whole seconds.
 * `undefined` means the default ({@link ENGINE_DEFAULTS}, per policy for the token lifetimes).
 */
export interface EngineOptions extends AccountLifecycleOptions {
  store: Store;
  /** Root secret, at least 32 bytes; refresh-token MACs and key encryption derive from it. */
  secret: Uint8Array;
  /** `iss` of access tokens: an http(s) URL without query or fragment, or another non-empty string. */
  issuer: string;
  /** `aud` of access tokens, like the issuer. Default: the issuer. */
  audience?: string | undefined;
  /** `client_id` of access tokens: 1 to 128 printable ASCII characters. Default `tessera`. */
  clientId?: string | undefined;
  /** Default `EdDSA`. */
  signingAlg?: SigningAlg | undefined;
  /**
   * Make access-token signatures on a worker thread, batched per event-loop turn, so the event loop
   * keeps only the JSON work. Default: true when the machine has more than one core.
   */
  signOffThread?: boolean | undefined;
  /** The session policy. Default `rotating-refresh`. */
  policy?: PolicyName | undefined;
  /** Access-token lifetime: 1 s up to the policy's maximum (1 day; 90 days for `long-lived-token`). Default: the policy's. */
  accessTtlSeconds?: number | undefined;
  /**
   * Soft lifetime of access tokens, shorter than `accessTtlSeconds`; used only by a policy with a soft
   * expiry (`soft-expiry`). Default: a sixth of the access TTL.
   */
  softTtlSeconds?: number | undefined;
  /** Sliding idle timeout, at most the absolute lifetime. Default 14 days. */
  refreshIdleTtlSeconds?: number | undefined;
  /** Absolute session lifetime, at most 400 days. Default 30 days. */
  refreshAbsoluteTtlSeconds?: number | undefined;
  /** How long the predecessor of the current refresh token still gets the same successor: 0–300. Default 10. */
  reuseGraceSeconds?: number | undefined;
  /** Accepted clock skew when checking `exp`/`iat`: 0–60. Default 2. */
  clockLeewaySeconds?: number | undefined;
  /** Live sessions per user; the oldest is evicted past it. 0 (default) means no cap. */
  maxSessionsPerUser?: number | undefined;
  /** Refuse a session once this long has passed since the user logged in; 0 (default) means off. */
  maxLoginAgeSeconds?: number | undefined;
  /** End the user's other sessions on a password change. Default true. */
  endSessionsOnPasswordChange?: boolean | undefined;
  /**
   * How recent an authentication sensitive operations need (RFC 9470 step-up: password change,
   * two-factor changes, email change): 1 s to 400 days. Default 600 (10 minutes).
   */
  reauthMaxAgeSeconds?: number | undefined;
  /**
   * Profile fields a user may set and tokens carry: names matching `^[a-z][a-z0-9_]{0,63}$`, never a
   * registered or Tessera claim. Default `name`, `phone_number`.
   */
  profileFields?: readonly string[] | undefined;
  /** Default {@link systemClock}. */
  clock?: Clock | undefined;
  /** Where revocations are published. Default: in-process. */
  bus?: RevocationBus | undefined;
  /** Default: in-process. */
  rateLimiter?: RateLimiter | undefined;
  /** `false` disables rate limiting; given lists replace the defaults' ({@link DEFAULT_RATE_LIMITS}). */
  rateLimits?: Partial<RateLimits> | false | undefined;
  /**
   * argon2id parameters. Default OWASP's (19 MiB, t=2, p=1); anything weaker than OWASP's minimums is
   * refused unless `insecureForTests` is set.
   */
  argon2?: Argon2Params | undefined;
  /** Hashes and verifies passwords instead of the built-in argon2id hasher (which `argon2` configures). */
  passwordHasher?: PasswordHasher | undefined;
  /** Receives audit events. */
  onEvent?: EventListener | undefined;
  /** Identity providers whose ID tokens `exchangeIdToken` accepts (RFC 8693). Default none. */
  trustedIssuers?: readonly TrustedIssuer[] | undefined;
  /** How providers' discovery documents and keys are fetched and cached. */
  trustedIssuerFetch?: Partial<TrustedIssuerFetch> | undefined;
  /** An ID token issued longer ago than this (its `iat`) is refused: 60 s to 1 day. Default 3600. */
  idTokenMaxAgeSeconds?: number | undefined;
  /**
   * DPoP (RFC 9449): `off` ignores proofs; `optional` binds a session started (or refreshed) with a
   * valid proof to its key; `required` refuses token requests without one. Default `optional`.
   */
  dpop?: DpopMode | undefined;
  /** Ask for server nonces in DPoP proofs (RFC 9449 §8; stateless, derived from `secret`). Default false. */
  dpopNonce?: boolean | undefined;
  /** How old a DPoP proof's `iat` may be: 5–300 seconds. Default 60. The replay cache keeps a `jti` this long. */
  dpopProofMaxAgeSeconds?: number | undefined;
  /**
   * Where DPoP proof `jti`s are remembered (a limiter whose `hit` with `limit: 1` admits a key once per
   * window): share one across instances (the Redis rate limiter) so a proof replayed to another
   * instance is refused too. Default: a dedicated in-process one.
   */
  dpopReplayCache?: RateLimiter | undefined;
  /*
   * Webhooks and one-time tokens (AccountLifecycleOptions): `deliver` (without it no webhook event is
   * written and the one-time-token flows are off), `webhookTimeoutSeconds` (default 10),
   * `oneTimeTokenTtlSeconds` (reset 30 min, verification 24 h, magic link 15 min, email change 24 h).
   */
}

/** {@link EngineOptions} resolved: every default filled in, every value checked. Frozen. */
export interface ResolvedEngineOptions extends ResolvedAccountLifecycleOptions {
  readonly store: Store;
  readonly secret: Uint8Array;
  readonly issuer: string;
  readonly audience: string;
  readonly clientId: string;
  readonly signingAlg: SigningAlg;
  readonly signOffThread: boolean;
  readonly policy: PolicyName;
  readonly accessTtlSeconds: number;
  /** `null` under a policy without a soft expiry. */
  readonly softTtlSeconds: number | null;
  readonly refreshIdleTtlSeconds: number;
  readonly refreshAbsoluteTtlSeconds: number;
  readonly reuseGraceSeconds: number;
  readonly clockLeewaySeconds: number;
  readonly maxSessionsPerUser: number;
  readonly maxLoginAgeSeconds: number;
  readonly endSessionsOnPasswordChange: boolean;
  readonly reauthMaxAgeSeconds: number;
  readonly profileFields: readonly string[];
  readonly clock: Clock;
  readonly bus: RevocationBus;
  readonly rateLimiter: RateLimiter;
  readonly rateLimits: Readonly<RateLimits> | false;
  readonly argon2: Readonly<Argon2Params>;
  /** `null`: the built-in argon2id hasher with `argon2`. */
  readonly passwordHasher: PasswordHasher | null;
  readonly onEvent: EventListener | null;
  readonly trustedIssuers: readonly ResolvedTrustedIssuer[];
  readonly trustedIssuerFetch: Readonly<TrustedIssuerFetch>;
  readonly idTokenMaxAgeSeconds: number;
  readonly dpop: DpopMode;
  readonly dpopNonce: boolean;
  readonly dpopProofMaxAgeSeconds: number;
  readonly dpopReplayCache: RateLimiter;
}

/**
 * The defaults of every option that has one, besides the per-policy token lifetimes
 * (`POLICY_DEFAULT_ACCESS_TTL_SECONDS`; the soft TTL defaults to a sixth of the access TTL).
 */
export const ENGINE_DEFAULTS: Readonly<{
  clientId: string;
  signingAlg: SigningAlg;
  policy: PolicyName;
  refreshIdleTtlSeconds: number;
  refreshAbsoluteTtlSeconds: number;
  reuseGraceSeconds: number;
  clockLeewaySeconds: number;
  maxSessionsPerUser: number;
  maxLoginAgeSeconds: number;
  endSessionsOnPasswordChange: boolean;
  reauthMaxAgeSeconds: number;
  profileFields: readonly string[];
  argon2: Readonly<Argon2Params>;
  rateLimits: Readonly<RateLimits>;
  trustedIssuerFetch: Readonly<TrustedIssuerFetch>;
  idTokenMaxAgeSeconds: number;
  dpop: DpopMode;
  dpopNonce: boolean;
  dpopProofMaxAgeSeconds: number;
}> = Object.freeze({
  clientId: 'tessera',
  signingAlg: 'EdDSA',
  policy: 'rotating-refresh',
  refreshIdleTtlSeconds: 14 * 86_400,
  refreshAbsoluteTtlSeconds: 30 * 86_400,
  reuseGraceSeconds: 10,
  clockLeewaySeconds: 2,
  maxSessionsPerUser: 0,
  maxLoginAgeSeconds: 0,
  endSessionsOnPasswordChange: true,
  reauthMaxAgeSeconds: 600,
  profileFields: Object.freeze(['name', 'phone_number']),
  argon2: OWASP_ARGON2ID,
  rateLimits: DEFAULT_RATE_LIMITS,
  trustedIssuerFetch: Object.freeze({ timeoutSeconds: 5, cacheSeconds: 600, cooldownSeconds: 30 }),
  idTokenMaxAgeSeconds: 3600,
  dpop: 'optional',
  dpopNonce: false,
  dpopProofMaxAgeSeconds: 60,
});
