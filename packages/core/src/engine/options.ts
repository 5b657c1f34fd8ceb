import type { Clock } from '../clock.ts';
import type { EventListener } from '../events.ts';
import type { Argon2Params } from '../password.ts';
import type { RateLimiter, RateLimitRule } from '../rate-limit.ts';
import type { RevocationBus } from '../revocation-bus.ts';
import type { Store } from '../store/store.ts';
import type { SigningAlg } from '../tokens/keyring.ts';
import type { PolicyName } from './policy.ts';

/** Rate limits of the engine's guarded operations. Each list is checked in order. */
export interface RateLimits {
  /** Login and register attempts per client IP. */
  loginPerIp: RateLimitRule[];
  /** Failed logins per account: escalating windows act as backoff. */
  loginFailuresPerAccount: RateLimitRule[];
  /** Refreshes per client IP. */
  refreshPerIp: RateLimitRule[];
  /** Refreshes per session. */
  refreshPerSession: RateLimitRule[];
}

/** The default limits (see docs/security.md). */
export const DEFAULT_RATE_LIMITS: Readonly<RateLimits> = Object.freeze({
  loginPerIp: [
    { limit: 30, windowSeconds: 60 },
    { limit: 300, windowSeconds: 3600 },
  ],
  loginFailuresPerAccount: [
    { limit: 5, windowSeconds: 60 },
    { limit: 10, windowSeconds: 900 },
    { limit: 20, windowSeconds: 3600 },
  ],
  refreshPerIp: [{ limit: 1200, windowSeconds: 60 }],
  refreshPerSession: [{ limit: 60, windowSeconds: 60 }],
});

/** Options of {@link createEngine}. Durations are whole seconds. */
export interface EngineOptions {
  store: Store;
  /** Root secret, at least 32 bytes; refresh-token MACs and key encryption derive from it. */
  secret: Uint8Array;
  /** `iss` of access tokens. */
  issuer: string;
  /** `aud` of access tokens. Default: the issuer. */
  audience?: string;
  /** `client_id` of access tokens. Default `tessera`. */
  clientId?: string;
  /** Default `EdDSA`. */
  signingAlg?: SigningAlg;
  /**
   * Make access-token signatures on a worker thread, batched per event-loop turn, so the event loop
   * keeps only the JSON work. Default: true when the machine has more than one core.
   */
  signOffThread?: boolean;
  /** The session policy. Default `rotating-refresh`. */
  policy?: PolicyName;
  /** Access-token lifetime. Default: the policy's (600 for `rotating-refresh`, 7 days for `long-lived-token`). */
  accessTtlSeconds?: number;
  /** `soft-expiry` only: soft lifetime of access tokens. Default: a sixth of the access TTL. */
  softTtlSeconds?: number;
  /** Sliding idle timeout. Default 14 days. */
  refreshIdleTtlSeconds?: number;
  /** Absolute session lifetime. Default 30 days. */
  refreshAbsoluteTtlSeconds?: number;
  /** How long the predecessor of the current refresh token still gets the same successor. Default 10. */
  reuseGraceSeconds?: number;
  /** Accepted clock skew when checking `exp`/`iat`. Default 2, at most 60. */
  clockLeewaySeconds?: number;
  /** Live sessions per user; the oldest is evicted past it. 0 (default) means no cap. */
  maxSessionsPerUser?: number;
  /** Refuse refresh once this long has passed since the user logged in; 0 (default) means off. */
  maxLoginAgeSeconds?: number;
  /** End the user's other sessions on a password change. Default true. */
  endSessionsOnPasswordChange?: boolean;
  /** Profile fields a user may set and tokens carry. Default `name`, `phone_number`. */
  profileFields?: readonly string[];
  /** Default {@link systemClock}. */
  clock?: Clock;
  /** Where revocations are published. Default: in-process. */
  bus?: RevocationBus;
  /** Default: in-process. */
  rateLimiter?: RateLimiter;
  /** `false` disables rate limiting. Default {@link DEFAULT_RATE_LIMITS}. */
  rateLimits?: RateLimits | false;
  /** argon2id parameters. Default OWASP (19 MiB, t=2, p=1). */
  argon2?: Argon2Params;
  /** Receives audit events. */
  onEvent?: EventListener;
}
