import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { TEST_SECRET } from '../testing/engine-fixture.ts';
import { resolveEngineOptions } from './resolve-options.ts';
import { resolveTrustedIssuers } from './trusted-issuers.ts';

function refusedField(value: unknown): string | undefined {
  try {
    resolveTrustedIssuers(value);
  } catch (error) {
    assert.ok(isTesseraError(error) && error.code === 'invalid_configuration');
    return error.field;
  }
  assert.fail(`accepted ${JSON.stringify(value)}`);
}

describe('resolveTrustedIssuers', () => {
  it('completes a valid list', () => {
    assert.deepEqual(
      resolveTrustedIssuers([
        { issuer: 'https://accounts.google.com', audience: '123.apps.googleusercontent.com' },
        {
          issuer: 'http://127.0.0.1:9000',
          audience: 'local',
          jwksUri: 'http://localhost:9000/jwks',
          mergeByEmail: true,
          algorithms: ['ES256', 'ES256', 'EdDSA'],
        },
      ]),
      [
        {
          issuer: 'https://accounts.google.com',
          audience: '123.apps.googleusercontent.com',
          jwksUri: null,
          mergeByEmail: false,
          algorithms: null,
        },
        {
          issuer: 'http://127.0.0.1:9000',
          audience: 'local',
          jwksUri: 'http://localhost:9000/jwks',
          mergeByEmail: true,
          algorithms: ['ES256', 'EdDSA'],
        },
      ],
    );
    assert.deepEqual(resolveTrustedIssuers(undefined), []);
  });

  it('refuses what it must not trust, naming the entry and setting', () => {
    const ok = { issuer: 'https://idp.example.com', audience: 'app' };
    const cases: Array<[unknown, string]> = [
      ['https://idp.example.com', 'trustedIssuers'],
      [Array(51).fill(ok), 'trustedIssuers'],
      [[null], 'trustedIssuers[0]'],
      [[{ ...ok, issuer: 'http://idp.example.com' }], 'trustedIssuers[0].issuer'],
      [[{ ...ok, issuer: 'https://idp.example.com?x=1' }], 'trustedIssuers[0].issuer'],
      [[{ ...ok, issuer: 'https://user:pw@idp.example.com' }], 'trustedIssuers[0].issuer'],
      [[{ ...ok, issuer: 'not a url' }], 'trustedIssuers[0].issuer'],
      [[ok, ok], 'trustedIssuers[1].issuer'],
      [[{ ...ok, audience: '' }], 'trustedIssuers[0].audience'],
      [[{ ...ok, audience: 'two words' }], 'trustedIssuers[0].audience'],
      [[{ issuer: ok.issuer }], 'trustedIssuers[0].audience'],
      [[{ ...ok, jwksUri: 'http://idp.example.com/jwks' }], 'trustedIssuers[0].jwksUri'],
      [[{ ...ok, mergeByEmail: 'yes' }], 'trustedIssuers[0].mergeByEmail'],
      [[{ ...ok, algorithms: ['HS256'] }], 'trustedIssuers[0].algorithms'],
      [[{ ...ok, algorithms: ['none'] }], 'trustedIssuers[0].algorithms'],
      [[{ ...ok, algorithms: [] }], 'trustedIssuers[0].algorithms'],
      [[{ ...ok, jwks_uri: 'https://idp.example.com/jwks' }], 'trustedIssuers[0].jwks_uri'],
    ];
    for (const [value, field] of cases) assert.equal(refusedField(value), field, JSON.stringify(value));
  });

  it('is checked with the other engine options', () => {
    const base = { store: createMemoryStore(), secret: TEST_SECRET, issuer: 'https://auth.example.com' };
    const resolved = resolveEngineOptions(base);
    assert.deepEqual(resolved.trustedIssuers, []);
    assert.equal(resolved.idTokenMaxAgeSeconds, 3600);
    assert.deepEqual(resolved.trustedIssuerFetch, {
      timeoutSeconds: 5,
      cacheSeconds: 600,
      cooldownSeconds: 30,
    });
    for (const [options, field] of [
      [{ idTokenMaxAgeSeconds: 30 }, 'idTokenMaxAgeSeconds'],
      [{ trustedIssuerFetch: { timeoutSeconds: 0 } }, 'trustedIssuerFetch.timeoutSeconds'],
      [{ trustedIssuerFetch: { cacheSeconds: -1 } }, 'trustedIssuerFetch.cacheSeconds'],
      [{ trustedIssuerFetch: 5 }, 'trustedIssuerFetch'],
      [{ trustedIssuers: [{ issuer: 'ftp://x', audience: 'a' }] }, 'trustedIssuers[0].issuer'],
    ] as const) {
      assert.throws(
        () => resolveEngineOptions({ ...base, ...(options as object) }),
        (error: unknown) => isTesseraError(error) && error.field === field,
        field,
      );
    }
  });
});
