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
  /**
   * Counts one hit against `key` and says whether it is within `rule`. Atomic: of any number of
   * concurrent hits on one key, exactly `rule.limit` per window are allowed, so a caller may count an
   * attempt before checking a password and refund it with {@link RateLimiter.reset} on success.
   */
  hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision>;
  /** Says whether `key` is currently refused, without counting a hit. */
  check(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitDecision>;
  /** Forgets `key` (after a successful login, say). */
  reset(key: string): Promise<void>;
}

/** The in-process limiter, with the number of windows it holds (for metrics and tests). */
export interface MemoryRateLimiter extends RateLimiter {
  /** How many keys have a window in memory now; never more than `maxKeys`. */
  size(): number;
}

interface Window {
  startMs: number;
  endMs: number;
  count: number;
  limit: number;
}

const refusing = (w: Window): boolean => w.count >= w.limit;
const secondsUntil = (endMs: number, nowMs: number): number => Math.max(1, Math.ceil((endMs - nowMs) / 1000));

/**
 * Creates an in-process fixed-window {@link MemoryRateLimiter} holding at most `maxKeys` keys
 * (default 100,000). Memory stays bounded without making the limiter flushable: when a new key finds
 * it full, expired windows go first, then a tenth of the live windows that still allow hits (lowest
 * count first, then oldest); a window that is refusing (at or over its limit) is never dropped before
 * it ends, so a flood of distinct keys cannot wipe an account's lockout. If every window held is
 * refusing, a new key is refused too (fail closed) until the first of them ends. `hit` runs without
 * an `await`, so it is atomic within the process.
 */
export function createMemoryRateLimiter(maxKeys = 100_000): MemoryRateLimiter {
  const windows = new Map<string, Window>();
  // While full of refusing windows, nothing can be dropped before the earliest of them ends.
  let saturatedUntilMs = 0;
  // Dropping a tenth at a time keeps the scan behind it rare under a flood.
  const evictBatch = Math.max(1, Math.floor(maxKeys / 10));

  const makeRoom = (nowMs: number): boolean => {
    if (nowMs < saturatedUntilMs && windows.size >= maxKeys) return false;
    for (const [key, w] of windows) if (nowMs >= w.endMs) windows.delete(key);
    if (windows.size < maxKeys) return true;
    const evictable = [...windows].filter(([, w]) => !refusing(w));
    evictable.sort(([, a], [, b]) => a.count - b.count || a.startMs - b.startMs);
    for (const [key] of evictable.slice(0, evictBatch)) windows.delete(key);
    if (windows.size < maxKeys) return true;
    saturatedUntilMs = Number.POSITIVE_INFINITY;
    for (const w of windows.values()) saturatedUntilMs = Math.min(saturatedUntilMs, w.endMs);
    return false;
  };

  const decide = (w: Window, nowMs: number): RateLimitDecision =>
    w.count <= w.limit
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: secondsUntil(w.endMs, nowMs) };

  return {
    async hit(key, rule, nowMs) {
      let w = windows.get(key);
      if (!w || nowMs >= w.endMs) {
        if (!w && windows.size >= maxKeys && !makeRoom(nowMs)) {
          return { allowed: false, retryAfterSeconds: secondsUntil(saturatedUntilMs, nowMs) };
        }
        w = { startMs: nowMs, endMs: nowMs + rule.windowSeconds * 1000, count: 0, limit: rule.limit };
        windows.set(key, w);
      }
      w.count += 1;
      w.limit = rule.limit;
      return decide(w, nowMs);
    },
    async check(key, rule, nowMs) {
      const w = windows.get(key);
      if (!w || nowMs >= w.endMs || w.count < rule.limit) return { allowed: true };
      return { allowed: false, retryAfterSeconds: secondsUntil(w.endMs, nowMs) };
    },
    async reset(key) {
      windows.delete(key);
    },
    size: () => windows.size,
  };
}
