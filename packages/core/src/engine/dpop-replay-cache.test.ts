import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRateLimiter } from '../rate-limit.ts';
import { createDpopReplayCache } from './dpop-replay-cache.ts';

const WINDOW = { limit: 1, windowSeconds: 66 };

describe('DPoP replay cache', () => {
  it('allows a proof id once, refuses it until its window ends to the millisecond, then forgets it', async () => {
    const cache = createDpopReplayCache();
    assert.deepEqual(await cache.hit('jti-1', WINDOW, 1_000), { allowed: true });
    assert.deepEqual(await cache.hit('jti-1', WINDOW, 66_999), { allowed: false, retryAfterSeconds: 1 });
    assert.deepEqual(await cache.check('jti-1', WINDOW, 2_000), { allowed: false, retryAfterSeconds: 65 });
    assert.deepEqual(await cache.hit('jti-1', WINDOW, 67_000), { allowed: true }, 'a new window');
    await cache.reset('jti-1');
    assert.deepEqual(await cache.check('jti-1', WINDOW, 67_001), { allowed: true });
  });

  it('through a flood of 250,000 ids inside one window, keeps every live id and takes new ones', async () => {
    // What the engine used before, the in-process rate limiter (100,000 windows), cannot drop a window
    // that refuses, and every proof id's window refuses its second use: once full, it refused every
    // new proof until windows ran out (beyond ~1,500 DPoP requests a second, sustained).
    const before = createMemoryRateLimiter(100_000);
    const cache = createDpopReplayCache();
    for (const memory of [before, cache]) await memory.hit('victim', WINDOW, 0);
    for (let i = 0; i < 250_000; i += 1) {
      const nowMs = Math.floor(i / 5);
      await cache.hit(`flood-${i}`, WINDOW, nowMs);
      await before.hit(`flood-${i}`, WINDOW, nowMs);
    }
    assert.equal((await cache.hit('victim', WINDOW, 60_000)).allowed, false, 'the replay is refused');
    assert.equal((await cache.hit('fresh', WINDOW, 60_000)).allowed, true, 'a new proof is taken');
    assert.equal((await before.hit('fresh', WINDOW, 60_000)).allowed, false, 'the old memory refused it');
  });
});
