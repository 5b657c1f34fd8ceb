import { configError, show, wholeNumber } from '../internal/option-checks.ts';
import type { RateLimitRule } from '../rate-limit.ts';

/** Rate limits of the engine's guarded operations. Each list is checked in order; every hit counts. */
export interface RateLimits {
  /** Login and register attempts per client (IPv4 address, IPv6 /64). */
  loginPerIp: RateLimitRule[];
  /**
   * Password attempts per account (login, TOTP, password change), counted before the check and forgotten
   * after a success: escalating windows act as backoff.
   */
  loginFailuresPerAccount: RateLimitRule[];
  /** Password changes per client. */
  passwordChangePerIp: RateLimitRule[];
  /** Refreshes per client. */
  refreshPerIp: RateLimitRule[];
  /** Refreshes per session. */
  refreshPerSession: RateLimitRule[];
  /** ID-token exchanges per external identity (`iss`, `sub`), counted once the token is verified. */
  externalLoginPerIdentity: RateLimitRule[];
  /**
   * One-time-token requests (forgot password, magic link, verification, email change) per client: counted
   * alike for known and unknown emails.
   */
  oneTimeTokenRequestsPerIp: RateLimitRule[];
  /** One-time-token requests per account (its normalized email, known or not): no mail-bombing one inbox. */
  oneTimeTokenRequestsPerAccount: RateLimitRule[];
  /** One-time-token redemptions (reset, verification, magic link, email change) per client. */
  oneTimeTokenRedemptionsPerIp: RateLimitRule[];
}

function freezeRules(rules: readonly RateLimitRule[]): RateLimitRule[] {
  return Object.freeze(rules.map((rule) => Object.freeze({ ...rule }))) as RateLimitRule[];
}

/** The default limits (see docs/security.md), frozen to the last rule. */
export const DEFAULT_RATE_LIMITS: Readonly<RateLimits> = Object.freeze({
  loginPerIp: freezeRules([
    { limit: 30, windowSeconds: 60 },
    { limit: 300, windowSeconds: 3600 },
  ]),
  loginFailuresPerAccount: freezeRules([
    { limit: 5, windowSeconds: 60 },
    { limit: 10, windowSeconds: 900 },
    { limit: 20, windowSeconds: 3600 },
  ]),
  passwordChangePerIp: freezeRules([
    { limit: 10, windowSeconds: 60 },
    { limit: 50, windowSeconds: 3600 },
  ]),
  refreshPerIp: freezeRules([{ limit: 1200, windowSeconds: 60 }]),
  refreshPerSession: freezeRules([{ limit: 60, windowSeconds: 60 }]),
  externalLoginPerIdentity: freezeRules([
    { limit: 10, windowSeconds: 60 },
    { limit: 100, windowSeconds: 3600 },
  ]),
  oneTimeTokenRequestsPerIp: freezeRules([
    { limit: 10, windowSeconds: 60 },
    { limit: 100, windowSeconds: 3600 },
  ]),
  oneTimeTokenRequestsPerAccount: freezeRules([
    { limit: 3, windowSeconds: 600 },
    { limit: 10, windowSeconds: 86_400 },
  ]),
  oneTimeTokenRedemptionsPerIp: freezeRules([
    { limit: 30, windowSeconds: 60 },
    { limit: 300, windowSeconds: 3600 },
  ]),
});

const MAX_WINDOW_SECONDS = 31 * 86_400;

/**
 * Resolves the `rateLimits` option: the defaults, `false` (off), or lists that replace the defaults' (each
 * at most 10 rules, windows distinct, limits ≥ 1, windows 1 s to 31 days). Throws `invalid_configuration`
 * naming `rateLimits.<list>`.
 */
export function rateLimitsOption(value: unknown): Readonly<RateLimits> | false {
  if (value === undefined) return DEFAULT_RATE_LIMITS;
  if (value === false) return false;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError('rateLimits', `must be false or an object of rule lists; got ${show(value)}.`);
  }
  const limits: Record<string, RateLimitRule[]> = { ...DEFAULT_RATE_LIMITS };
  for (const [name, rules] of Object.entries(value)) {
    const option = `rateLimits.${name}`;
    if (!(name in DEFAULT_RATE_LIMITS)) {
      throw configError(option, `is not a rate limit; use ${Object.keys(DEFAULT_RATE_LIMITS).join(', ')}.`);
    }
    if (rules === undefined) continue;
    if (!Array.isArray(rules) || rules.length > 10) {
      throw configError(option, 'must be an array of at most 10 rules { limit, windowSeconds }.');
    }
    limits[name] = freezeRules(
      rules.map((rule: unknown) => {
        const { limit, windowSeconds } = (rule ?? {}) as Partial<RateLimitRule>;
        return {
          limit: wholeNumber(`${option}.limit`, limit, 1, 1_000_000_000),
          windowSeconds: wholeNumber(
            `${option}.windowSeconds`,
            windowSeconds,
            1,
            MAX_WINDOW_SECONDS,
            'seconds',
          ),
        };
      }),
    );
    // Each rule counts under its window's key: two rules with one window would count every hit twice.
    if (new Set(limits[name].map((rule) => rule.windowSeconds)).size !== rules.length) {
      throw configError(option, 'must not hold two rules with the same windowSeconds.');
    }
  }
  return Object.freeze(limits as unknown as RateLimits);
}
