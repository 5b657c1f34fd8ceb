export type { RedisBus, RedisBusOptions } from './redis-bus.ts';
export { createRedisBus } from './redis-bus.ts';
export type { RedisRateLimiterOptions } from './redis-rate-limiter.ts';
export { createRedisRateLimiter } from './redis-rate-limiter.ts';
