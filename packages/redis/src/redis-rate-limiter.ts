import {
  createMemoryRateLimiter,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitRule,
} from '@tessera/core';
import { Redis } from 'ioredis';

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  url: string;
  /** Key prefix. Default `tessera:`. */
  prefix?: string;
}

// One round trip: count the hit, start the window on the first one, report the count and time left.
const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

function decide(count: number, ttlMs: number, rule: RateLimitRule): RateLimitDecision {
  return count <= rule.limit
    ? { allowed: true }
    : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
}

/**
 * A {@link RateLimiter} whose fixed-window counters live in Redis, so limits hold across instances.
 * When Redis is unreachable it falls back to per-instance counters rather than refusing logins and
 * refreshes: Redis is never required for the service to answer.
 * @example
 * const rateLimiter = createRedisRateLimiter({ url: 'redis://127.0.0.1:6379' });
 */
export function createRedisRateLimiter(
  options: RedisRateLimiterOptions,
): RateLimiter & { close(): Promise<void> } {
  const prefix = `${options.prefix ?? 'tessera:'}rl:`;
  const redis = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
  });
  redis.on('error', () => undefined);
  const fallback = createMemoryRateLimiter();
  return {
    async hit(key, rule, nowMs) {
      try {
        const [count, ttl] = (await redis.eval(HIT, 1, prefix + key, String(rule.windowSeconds * 1000))) as [
          number,
          number,
        ];
        return decide(count, ttl, rule);
      } catch {
        return fallback.hit(key, rule, nowMs);
      }
    },
    async check(key, rule, nowMs) {
      try {
        const [count, ttl] =
          (await redis
            .multi()
            .get(prefix + key)
            .pttl(prefix + key)
            .exec()) ?? [];
        const current = Number(count?.[1] ?? 0);
        return current >= rule.limit ? decide(current + 1, Number(ttl?.[1] ?? 0), rule) : { allowed: true };
      } catch {
        return fallback.check(key, rule, nowMs);
      }
    },
    async reset(key) {
      await redis.del(prefix + key).catch(() => undefined);
      await fallback.reset(key);
    },
    async close() {
      redis.disconnect();
    },
  };
}
