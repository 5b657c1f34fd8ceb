import { createReplayCache } from '@tessera/protocol';
import type { RateLimitDecision, RateLimiter } from '../rate-limit.ts';

/**
 * Proof ids one process remembers by default: above what it can verify in one proof window (a proof
 * check costs at least one signature verification, ~50–130 µs, so a core verifies at most ~20,000 a
 * second; 1,000,000 covers two cores over a 66 s window), so no live `jti` is forgotten under load.
 */
export const DPOP_REPLAY_CACHE_ENTRIES = 1_000_000;

/**
 * The engine's default DPoP `jti` memory (RFC 9449 §11.1), in the shape of a {@link RateLimiter} so a
 * shared one (Redis) can take its place: `hit` allows a key once and refuses it again until its window
 * ends. Unlike the in-process rate limiter, it sweeps expired ids in O(1) amortized and never evicts a
 * live one while below `maxEntries`.
 */
export function createDpopReplayCache(maxEntries: number = DPOP_REPLAY_CACHE_ENTRIES): RateLimiter {
  const ids = createReplayCache(maxEntries);
  const refused = (expiresAtMs: number, nowMs: number): RateLimitDecision => ({
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil((expiresAtMs - nowMs) / 1000)),
  });
  return {
    async hit(key, rule, nowMs) {
      // `seen` leaves a live id as it is, so its expiry is still there to say when to retry.
      if (!ids.seen(key, nowMs + rule.windowSeconds * 1000, nowMs)) return { allowed: true };
      return refused(ids.expiryOf(key, nowMs) ?? nowMs, nowMs);
    },
    async check(key, _rule, nowMs) {
      const known = ids.expiryOf(key, nowMs);
      return known === null ? { allowed: true } : refused(known, nowMs);
    },
    async reset(key) {
      ids.forget(key);
    },
  };
}
