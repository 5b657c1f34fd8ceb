/** A fixed-window limit: at most `limit` hits per `windowSeconds`. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

/** The answer of a limiter: allowed, or refused with the seconds to wait. */
export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts attempts per key. In-process by default; a shared implementation (Redis) makes the
 * limits hold across instances.
 */
export interface RateLimiter {
  /** Counts one hit against `key` and says whether it is within `rule`. */
  hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision>;
  /** Says whether `key` is currently refused, without counting a hit. */
  check(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision>;
  /** Forgets `key` (after a successful login, say). */
  reset(key: string): Promise<void>;
}

/** Creates an in-process fixed-window {@link RateLimiter} holding at most `maxKeys` keys. */
export function createMemoryRateLimiter(maxKeys = 100_000): RateLimiter {
  const windows = new Map<string, { startMs: number; count: number }>();
  const current = (key: string, rule: RateLimitRule, nowMs: number) => {
    const windowMs = rule.windowSeconds * 1000;
    let entry = windows.get(key);
    if (!entry || nowMs - entry.startMs >= windowMs) {
      entry = { startMs: nowMs, count: 0 };
      if (windows.size >= maxKeys) {
        // Drop the oldest key: memory stays bounded even under a flood of distinct keys.
        const oldest = windows.keys().next().value;
        if (oldest !== undefined) windows.delete(oldest);
      }
      windows.delete(key);
      windows.set(key, entry);
    }
    return entry;
  };
  const decide = (entry: { startMs: number; count: number }, rule: RateLimitRule, nowMs: number) =>
    entry.count <= rule.limit
      ? ({ allowed: true } as const)
      : ({
          allowed: false,
          retryAfterSeconds: Math.max(
            1,
            Math.ceil((entry.startMs + rule.windowSeconds * 1000 - nowMs) / 1000),
          ),
        } as const);
  return {
    async hit(key, rule, nowMs) {
      const entry = current(key, rule, nowMs);
      entry.count += 1;
      return decide(entry, rule, nowMs);
    },
    async check(key, rule, nowMs) {
      const entry = windows.get(key);
      if (!entry || nowMs - entry.startMs >= rule.windowSeconds * 1000) return { allowed: true };
      return entry.count >= rule.limit
        ? decide({ ...entry, count: entry.count + 1 }, rule, nowMs)
        : { allowed: true };
    },
    async reset(key) {
      windows.delete(key);
    },
  };
}
