import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { TEST_SECRET } from '../testing/engine-fixture.ts';
import { ONE_TIME_TOKEN_TTL_DEFAULTS } from './account-lifecycle-options.ts';
import type { EngineOptions } from './options.ts';
import { resolveEngineOptions } from './resolve-options.ts';

const base: EngineOptions = {
  store: createMemoryStore(),
  secret: TEST_SECRET,
  issuer: 'https://auth.example.com',
};

function refusedField(options: Record<string, unknown>): string | undefined {
  try {
    resolveEngineOptions({ ...base, ...options } as unknown as EngineOptions);
  } catch (error) {
    if (isTesseraError(error) && error.code === 'invalid_configuration') return error.field;
    throw error;
  }
  return undefined;
}

describe('account-lifecycle options', () => {
  it('default to no delivery target, a 10 s timeout and the design’s token lifetimes', () => {
    const resolved = resolveEngineOptions(base);
    assert.equal(resolved.deliver, null);
    assert.equal(resolved.webhookTimeoutSeconds, 10);
    assert.deepEqual(resolved.oneTimeTokenTtlSeconds, ONE_TIME_TOKEN_TTL_DEFAULTS);
    assert.deepEqual(ONE_TIME_TOKEN_TTL_DEFAULTS, {
      password_reset: 1800,
      email_verification: 86_400,
      magic_link: 900,
      email_change: 86_400,
    });
  });

  it('override one lifetime and keep the others, and check every value', () => {
    const deliver = async () => {};
    const resolved = resolveEngineOptions({ ...base, deliver, oneTimeTokenTtlSeconds: { magic_link: 300 } });
    assert.equal(resolved.deliver, deliver);
    assert.equal(resolved.oneTimeTokenTtlSeconds.magic_link, 300);
    assert.equal(resolved.oneTimeTokenTtlSeconds.password_reset, 1800);
    assert.equal(refusedField({ deliver: 'https://example.com' }), 'deliver');
    assert.equal(refusedField({ webhookTimeoutSeconds: 0 }), 'webhookTimeoutSeconds');
    assert.equal(refusedField({ webhookTimeoutSeconds: 121 }), 'webhookTimeoutSeconds');
    assert.equal(
      refusedField({ oneTimeTokenTtlSeconds: { magic_link: 59 } }),
      'oneTimeTokenTtlSeconds.magic_link',
    );
    assert.equal(
      refusedField({ oneTimeTokenTtlSeconds: { password_reset: 8 * 86_400 } }),
      'oneTimeTokenTtlSeconds.password_reset',
    );
    assert.equal(refusedField({ oneTimeTokenTtlSeconds: { session: 60 } }), 'oneTimeTokenTtlSeconds.session');
    assert.equal(refusedField({ oneTimeTokenTtlSeconds: [] }), 'oneTimeTokenTtlSeconds');
    assert.equal(
      refusedField({ rateLimits: { oneTimeTokenRequestsPerIp: [{ limit: 0, windowSeconds: 60 }] } }),
      'rateLimits.oneTimeTokenRequestsPerIp.limit',
    );
  });
});
