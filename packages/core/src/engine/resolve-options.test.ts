import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OWASP_ARGON2ID } from '../password.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { TEST_SECRET } from '../testing/engine-fixture.ts';
import { ENGINE_DEFAULTS } from './options.ts';
import { POLICY_DEFAULT_ACCESS_TTL_SECONDS, POLICY_NAMES } from './policies/registry.ts';
import { DEFAULT_RATE_LIMITS } from './rate-limits.ts';
import { resolveEngineOptions } from './resolve-options.ts';

const base = () => ({ store: createMemoryStore(), secret: TEST_SECRET, issuer: 'https://auth.example.com' });

describe('resolveEngineOptions', () => {
  it('fills every default once and returns a frozen object', () => {
    const resolved = resolveEngineOptions(base());
    assert.ok(Object.isFrozen(resolved));
    assert.equal(resolved.audience, 'https://auth.example.com');
    assert.equal(resolved.clientId, ENGINE_DEFAULTS.clientId);
    assert.equal(resolved.policy, 'rotating-refresh');
    assert.equal(resolved.accessTtlSeconds, 600);
    assert.equal(resolved.softTtlSeconds, null);
    assert.equal(resolved.refreshIdleTtlSeconds, 14 * 86_400);
    assert.equal(resolved.refreshAbsoluteTtlSeconds, 30 * 86_400);
    assert.equal(resolved.reuseGraceSeconds, 10);
    assert.equal(resolved.clockLeewaySeconds, 2);
    assert.deepEqual(resolved.profileFields, ['name', 'phone_number']);
    assert.equal(resolved.argon2, OWASP_ARGON2ID);
    assert.equal(resolved.rateLimits, DEFAULT_RATE_LIMITS);
    assert.equal(typeof resolved.clock.now(), 'number');
  });

  it('takes each policy’s own token lifetime, soft expiry and session floor', () => {
    for (const policy of POLICY_NAMES) {
      const resolved = resolveEngineOptions({ ...base(), policy });
      assert.equal(resolved.accessTtlSeconds, POLICY_DEFAULT_ACCESS_TTL_SECONDS[policy], policy);
      assert.equal(resolved.softTtlSeconds, policy === 'soft-expiry' ? 600 : null, policy);
    }
    // Nothing renews a long-lived token's session: its default limits stretch to the token's life.
    const long = resolveEngineOptions({
      ...base(),
      policy: 'long-lived-token',
      accessTtlSeconds: 60 * 86_400,
    });
    assert.deepEqual(
      [long.refreshIdleTtlSeconds, long.refreshAbsoluteTtlSeconds],
      [60 * 86_400, 60 * 86_400],
    );
    // An idle default never exceeds a shorter absolute lifetime.
    assert.equal(
      resolveEngineOptions({ ...base(), refreshAbsoluteTtlSeconds: 3600 }).refreshIdleTtlSeconds,
      3600,
    );
  });

  it('checks a soft TTL under every policy but uses it only under soft-expiry', () => {
    assert.equal(resolveEngineOptions({ ...base(), softTtlSeconds: 100 }).softTtlSeconds, null);
    assert.throws(() => resolveEngineOptions({ ...base(), softTtlSeconds: 0 }), { field: 'softTtlSeconds' });
    assert.equal(
      resolveEngineOptions({ ...base(), policy: 'soft-expiry', softTtlSeconds: 100 }).softTtlSeconds,
      100,
    );
  });

  it('merges given rate-limit lists over the defaults', () => {
    const rule = { limit: 3, windowSeconds: 60 };
    const resolved = resolveEngineOptions({ ...base(), rateLimits: { loginPerIp: [rule] } });
    assert.ok(resolved.rateLimits);
    assert.deepEqual(resolved.rateLimits.loginPerIp, [rule]);
    assert.deepEqual(resolved.rateLimits.refreshPerIp, DEFAULT_RATE_LIMITS.refreshPerIp);
    assert.equal(resolveEngineOptions({ ...base(), rateLimits: false }).rateLimits, false);
    assert.throws(
      () => resolveEngineOptions({ ...base(), rateLimits: { loginPerIp: [rule, { ...rule, limit: 9 }] } }),
      {
        field: 'rateLimits.loginPerIp',
      },
    );
    assert.ok(
      Object.isFrozen(DEFAULT_RATE_LIMITS.loginPerIp) && Object.isFrozen(DEFAULT_RATE_LIMITS.loginPerIp[0]),
    );
  });

  it('accepts argon2id parameters at any of OWASP’s minimums, and weaker ones only when marked for tests', () => {
    for (const [memoryCost, timeCost] of [
      [47_104, 1],
      [19_456, 2],
      [12_288, 3],
      [9_216, 4],
      [7_168, 5],
    ] as const) {
      resolveEngineOptions({ ...base(), argon2: { memoryCost, timeCost, parallelism: 1 } });
    }
    assert.throws(
      () => resolveEngineOptions({ ...base(), argon2: { memoryCost: 19_455, timeCost: 2, parallelism: 1 } }),
      {
        code: 'invalid_configuration',
        field: 'argon2',
      },
    );
    resolveEngineOptions({
      ...base(),
      argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1, insecureForTests: true },
    });
  });

  it('accepts plain-string issuers and audiences as well as URLs', () => {
    const resolved = resolveEngineOptions({ ...base(), issuer: 'tessera-dev', audience: 'urn:example:api' });
    assert.deepEqual([resolved.issuer, resolved.audience], ['tessera-dev', 'urn:example:api']);
  });
});
