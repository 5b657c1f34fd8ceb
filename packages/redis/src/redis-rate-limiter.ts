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
  /**
   * How long the first calls wait for the first connection before counting in memory instead.
   * Default 1000 ms. Later outages fall back at once.
   */
  connectTimeoutMs?: number;
  /** How long one Redis command may take before the call counts in memory instead. Default 250 ms. */
  commandTimeoutMs?: number;
  /**
   * After Redis failed or timed out, how long calls count in memory without trying Redis, so a frozen
   * Redis costs one timeout, not one per rate-limit rule of every request. Default 2000 ms.
   */
  backoffMs?: number;
}

// One round trip, run atomically by Redis: count the hit, start the window on the first one, report
// the count and the time left. Concurrent hits on one key therefore get distinct counts.
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
 * `hit` is one Lua script, so of any number of concurrent hits on a key (from any instance) exactly
 * `rule.limit` per window are allowed. When Redis is unreachable it falls back to per-instance
 * counters (themselves atomic) rather than refusing logins and refreshes: Redis is never required
 * for the service to answer. Until the first connection is up (at most `connectTimeoutMs`), calls
 * wait for it, so a burst at start-up is not split between the two counters.
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
    commandTimeout: options.commandTimeoutMs ?? 250,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
  });
  const backoffMs = options.backoffMs ?? 2000;
  // Until this instant (performance.now()) calls go straight to the in-memory counters.
  let skipRedisUntil = 0;
  const redisUsable = (): boolean => performance.now() >= skipRedisUntil;
  const redisFailed = (): void => {
    skipRedisUntil = performance.now() + backoffMs;
  };
  redis.on('error', () => undefined);
  const fallback = createMemoryRateLimiter();
  let everReady = false;
  redis.on('ready', () => {
    everReady = true;
  });
  let firstConnection: Promise<void> | null = null;
  const connected = (): Promise<void> => {
    if (everReady || redis.status === 'ready') return Promise.resolve();
    firstConnection ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        redis.off('end', done);
        resolve();
      };
      const timer = setTimeout(done, options.connectTimeoutMs ?? 1000);
      timer.unref();
      redis.once('ready', done);
      redis.once('end', done);
    });
    return firstConnection;
  };
  return {
    async hit(key, rule, nowMs) {
      await connected();
      if (!redisUsable()) return fallback.hit(key, rule, nowMs);
      try {
        const [count, ttl] = (await redis.eval(HIT, 1, prefix + key, String(rule.windowSeconds * 1000))) as [
          number,
          number,
        ];
        return decide(count, ttl, rule);
      } catch {
        redisFailed();
        return fallback.hit(key, rule, nowMs);
      }
    },
    async check(key, rule, nowMs) {
      await connected();
      if (!redisUsable()) return fallback.check(key, rule, nowMs);
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
        redisFailed();
        return fallback.check(key, rule, nowMs);
      }
    },
    async reset(key) {
      if (redisUsable()) await redis.del(prefix + key).catch(redisFailed);
      await fallback.reset(key);
    },
    async close() {
      redis.disconnect();
    },
  };
}
