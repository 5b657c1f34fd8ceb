import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createManualClock, isTesseraError } from '@tessera/core';
import { createEngineFixture, createTestDpopKey, signTestDpopProof } from '@tessera/core/testing';
import { Redis } from 'ioredis';
import { createRedisRateLimiter } from './redis-rate-limiter.ts';
import { testRedisProblem, TEST_REDIS_URL as URL } from './test-server.ts';

// The local Redis, a key prefix of this run's own, deleted afterwards. Outside CI a missing server
// skips with a reason; under CI=true it fails.
const PREFIX = `tessera-test-dpop-${randomBytes(6).toString('hex')}:`;
const HTU = 'http://127.0.0.1:4000/auth/refresh';

const available = (await testRedisProblem()) === null;

describe('DPoP replay cache shared through Redis', { skip: !available && 'Redis is not reachable' }, () => {
  after(async () => {
    const admin = new Redis(URL);
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it('refuses at a second engine a proof the first accepted, and only that proof', async () => {
    const clock = createManualClock(Date.now());
    const one = createRedisRateLimiter({ url: URL, prefix: PREFIX });
    const two = createRedisRateLimiter({ url: URL, prefix: PREFIX });
    const a = await createEngineFixture({ clock, dpopReplayCache: one });
    const b = await createEngineFixture({ clock, dpopReplayCache: two });
    try {
      const key = await createTestDpopKey();
      const proof = await signTestDpopProof(key, {
        htm: 'POST',
        htu: HTU,
        iat: Math.floor(clock.now() / 1000),
      });
      const request = { proof, method: 'POST', url: HTU };
      assert.equal(await a.engine.verifyDpopProof(request), key.jkt);
      await assert.rejects(
        b.engine.verifyDpopProof(request),
        (error: unknown) =>
          isTesseraError(error) && error.code === 'invalid_dpop_proof' && /already used/.test(error.message),
      );
      const fresh = await signTestDpopProof(key, {
        htm: 'POST',
        htu: HTU,
        iat: Math.floor(clock.now() / 1000),
      });
      assert.equal(await b.engine.verifyDpopProof({ ...request, proof: fresh }), key.jkt);
      const admin = new Redis(URL);
      const stored = await admin.keys(`${PREFIX}rl:dpop:jti:*`);
      const ttl = await admin.pttl(stored[0] as string);
      admin.disconnect();
      assert.equal(stored.length, 2, 'one key per accepted proof, the jti hashed');
      assert.ok(ttl > 60_000 && ttl <= 66_000, `held for the proof window only (${ttl} ms)`);
    } finally {
      await a.engine.close();
      await b.engine.close();
      await one.close();
      await two.close();
    }
  });
});
