import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRateLimiter } from './rate-limit.ts';

const T0 = Date.UTC(2030, 0, 1);
const RULE = { limit: 5, windowSeconds: 60 };

/** Hits `key` `times` times at `nowMs`; returns how many were allowed. */
async function allowedOf(
  limiter: ReturnType<typeof createMemoryRateLimiter>,
  key: string,
  times: number,
  nowMs: number,
  rule = RULE,
): Promise<number> {
  const decisions = await Promise.all(Array.from({ length: times }, () => limiter.hit(key, rule, nowMs)));
  return decisions.filter((d) => d.allowed).length;
}

describe('memory rate limiter', () => {
  it('allows exactly the limit of 60 concurrent hits, then refuses until the window ends', async () => {
    const limiter = createMemoryRateLimiter();
    const decisions = await Promise.all(Array.from({ length: 60 }, () => limiter.hit('acct', RULE, T0)));
    assert.equal(decisions.filter((d) => d.allowed).length, 5);
    assert.deepEqual(decisions[5], { allowed: false, retryAfterSeconds: 60 });
    assert.deepEqual(await limiter.check('acct', RULE, T0 + 59_001), {
      allowed: false,
      retryAfterSeconds: 1,
    });
    assert.deepEqual(await limiter.hit('acct', RULE, T0 + 60_000), { allowed: true }, 'a new window');
  });

  it('refunds with reset: a success forgets the counted attempts', async () => {
    const limiter = createMemoryRateLimiter();
    assert.equal(await allowedOf(limiter, 'acct', 5, T0), 5);
    assert.equal((await limiter.check('acct', RULE, T0)).allowed, false);
    await limiter.reset('acct');
    assert.equal(await allowedOf(limiter, 'acct', 6, T0), 5);
  });

  it('keeps a locked account locked through a flood of more distinct keys than it holds', async () => {
    const limiter = createMemoryRateLimiter(1000);
    assert.equal(await allowedOf(limiter, 'account:ada', 6, T0), 5);
    for (let i = 0; i < 5000; i += 1) {
      await limiter.hit(`ip:198.51.${i >> 8}.${i & 255}`, RULE, T0 + 1000 + i);
      assert.ok(limiter.size() <= 1000, 'memory stays bounded');
    }
    assert.deepEqual(await limiter.check('account:ada', RULE, T0 + 59_000), {
      allowed: false,
      retryAfterSeconds: 1,
    });
    assert.equal((await limiter.hit('account:ada', RULE, T0 + 59_999)).allowed, false);
    assert.equal(
      (await limiter.hit('account:ada', RULE, T0 + 60_000)).allowed,
      true,
      'until its window ends',
    );
  });

  it('drops expired windows first, then the least used live ones, never a nearly locked one', async () => {
    const limiter = createMemoryRateLimiter(100);
    const short = { limit: 5, windowSeconds: 10 };
    for (let i = 0; i < 50; i += 1) await limiter.hit(`old:${i}`, short, T0);
    assert.equal(await allowedOf(limiter, 'nearly', 4, T0 + 1000), 4);
    assert.equal(await allowedOf(limiter, 'twice', 2, T0 + 1000), 2);
    for (let i = 0; i < 48; i += 1) await limiter.hit(`fresh:${i}`, RULE, T0 + 2000);
    assert.equal(limiter.size(), 100);
    // The old windows have ended: a new key takes their room and no live window is touched.
    await limiter.hit('newcomer', RULE, T0 + 10_000);
    assert.equal(limiter.size(), 51);
    // Fill up again with single hits, then flood: the count-1 windows go, the count-4 and 2 stay.
    for (let i = 0; i < 500; i += 1) await limiter.hit(`flood:${i}`, RULE, T0 + 11_000);
    assert.equal(await allowedOf(limiter, 'nearly', 2, T0 + 12_000), 1, 'still at 4 of 5');
    assert.equal(await allowedOf(limiter, 'twice', 4, T0 + 12_000), 3, 'still at 2 of 5');
  });

  it('refuses a new key while every window it holds is refusing, until the first one ends', async () => {
    const limiter = createMemoryRateLimiter(10);
    for (let i = 0; i < 10; i += 1) await allowedOf(limiter, `locked:${i}`, 5, T0 + i * 1000);
    assert.deepEqual(await limiter.hit('newcomer', RULE, T0 + 10_000), {
      allowed: false,
      retryAfterSeconds: 50,
    });
    assert.equal((await limiter.hit('locked:3', RULE, T0 + 10_000)).allowed, false, 'locks hold');
    assert.equal(limiter.size(), 10);
    assert.equal(
      (await limiter.hit('newcomer', RULE, T0 + 60_000)).allowed,
      true,
      'room once locked:0 ended',
    );
    assert.equal((await limiter.hit('locked:9', RULE, T0 + 60_000)).allowed, false);
  });
});
