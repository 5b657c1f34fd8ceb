import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisRateLimiter } from './redis-rate-limiter.ts';
import { testRedisProblem, TEST_REDIS_URL as URL } from './test-server.ts';

// The local Redis every machine of this project runs. Each run uses a key prefix of its own and
// deletes its keys afterwards. Outside CI a missing server skips with a reason; under CI=true it fails.
const PREFIX = `tessera-test-${randomBytes(6).toString('hex')}:`;
const RULE = { limit: 5, windowSeconds: 60 };
const T0 = Date.UTC(2030, 0, 1);

/** A loopback port nothing listens on (the OS picked it, then it was closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const available = (await testRedisProblem()) === null;

const allowed = (decisions: Array<{ allowed: boolean }>): number => decisions.filter((d) => d.allowed).length;

describe('redis rate limiter', { skip: !available && 'Redis is not reachable' }, () => {
  after(async () => {
    const admin = new Redis(URL);
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it('allows exactly the limit of 60 concurrent hits, from the first call of a new limiter', async () => {
    const limiter = createRedisRateLimiter({ url: URL, prefix: PREFIX });
    try {
      const decisions = await Promise.all(Array.from({ length: 60 }, () => limiter.hit('acct:a', RULE, T0)));
      assert.equal(allowed(decisions), 5);
      const refused = decisions.find((d) => !d.allowed);
      assert.ok(
        refused && !refused.allowed && refused.retryAfterSeconds > 0 && refused.retryAfterSeconds <= 60,
      );
      const admin = new Redis(URL);
      const ttl = await admin.pttl(`${PREFIX}rl:acct:a`);
      admin.disconnect();
      assert.ok(ttl > 0 && ttl <= 60_000, `the window expires by itself (${ttl} ms)`);
    } finally {
      await limiter.close();
    }
  });

  it('holds the limit across instances sharing Redis, and refunds with reset', async () => {
    const one = createRedisRateLimiter({ url: URL, prefix: PREFIX });
    const two = createRedisRateLimiter({ url: URL, prefix: PREFIX });
    try {
      const decisions = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? one : two).hit('acct:b', RULE, T0)),
      );
      assert.equal(allowed(decisions), 5);
      assert.equal((await two.check('acct:b', RULE, T0)).allowed, false);
      await one.reset('acct:b');
      assert.deepEqual(await two.check('acct:b', RULE, T0), { allowed: true });
      assert.equal(
        allowed(await Promise.all(Array.from({ length: 8 }, () => two.hit('acct:b', RULE, T0)))),
        5,
      );
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('falls back to counters in memory that keep the property when Redis cannot be reached', async () => {
    const limiter = createRedisRateLimiter({
      url: `redis://127.0.0.1:${await closedPort()}`,
      prefix: PREFIX,
      connectTimeoutMs: 200,
    });
    try {
      const decisions = await Promise.all(Array.from({ length: 60 }, () => limiter.hit('acct:c', RULE, T0)));
      assert.equal(allowed(decisions), 5);
      assert.deepEqual(await limiter.check('acct:c', RULE, T0 + 59_500), {
        allowed: false,
        retryAfterSeconds: 1,
      });
      const later = await Promise.all(Array.from({ length: 60 }, () => limiter.hit('acct:d', RULE, T0)));
      assert.equal(allowed(later), 5, 'after the first connection attempt too');
    } finally {
      await limiter.close();
    }
  });
});
