import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  challenge,
  checkTesseraClaims,
  describeVerificationError,
  isSoftExpired,
  parseAuthorization,
  parseWireRevocation,
  quoteHeaderValue,
  readKeyId,
} from './index.ts';

describe('parseAuthorization', () => {
  it('reads Bearer and DPoP tokens, case-insensitively', () => {
    assert.deepEqual(parseAuthorization('Bearer abc.def'), {
      kind: 'token',
      scheme: 'Bearer',
      token: 'abc.def',
    });
    assert.deepEqual(parseAuthorization('bearer   x'), { kind: 'token', scheme: 'Bearer', token: 'x' });
    assert.deepEqual(parseAuthorization('DPoP y='), { kind: 'token', scheme: 'DPoP', token: 'y=' });
  });
  it('treats no header and other schemes as no token', () => {
    assert.deepEqual(parseAuthorization(undefined), { kind: 'none' });
    assert.deepEqual(parseAuthorization('Basic dXNlcjpwYXNz'), { kind: 'none' });
    assert.deepEqual(parseAuthorization(''), { kind: 'none' });
  });
  it('calls an empty, spaced, over-long or non-b64token token malformed', () => {
    for (const header of [
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Bearer a"b',
      `Bearer ${'a'.repeat(8193)}`,
      'DPoP é',
    ]) {
      assert.equal(parseAuthorization(header).kind, 'malformed', header);
    }
  });
});

describe('challenge and quoteHeaderValue', () => {
  it('renders RFC 6750 challenges', () => {
    assert.equal(challenge('Bearer'), 'Bearer');
    assert.equal(
      challenge('Bearer', { realm: 'api', error: 'invalid_token', max_age: 600, acr: undefined }),
      'Bearer realm="api", error="invalid_token", max_age=600',
    );
  });
  it('escapes quotes and backslashes and replaces what a header cannot carry', () => {
    assert.equal(quoteHeaderValue('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(quoteHeaderValue('x\r\ny\u0000é😀'), '"x??y???"');
  });
  it('never yields a value Node refuses as a header, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const value = challenge('Bearer', { error_description: text });
        assert.match(value, /^[\x20-\x7e]*$/);
        new Headers({ 'www-authenticate': value });
      }),
      { numRuns: 500 },
    );
  });
});

describe('access-token claims', () => {
  const now = 1_700_000_000_000;
  const good = { sub: 'u', sid: 's', ver: 1, iat: now / 1000, exp: now / 1000 + 600 };
  it('accepts Tessera claims and names what is missing or wrong', () => {
    assert.equal(checkTesseraClaims(good, now, 2), null);
    assert.match(checkTesseraClaims({ ...good, sid: 1 }, now, 2) ?? '', /lacks Tessera claims/);
    assert.match(checkTesseraClaims({ ...good, ver: 1.5 }, now, 2) ?? '', /lacks Tessera claims/);
    assert.match(checkTesseraClaims({ ...good, iat: now / 1000 + 3 }, now, 2) ?? '', /future/);
    assert.equal(checkTesseraClaims({ ...good, iat: now / 1000 + 2 }, now, 2), null);
    assert.match(checkTesseraClaims({ ...good, softexp: 'x' }, now, 2) ?? '', /softexp/);
  });
  it('says when a token is soft-expired, at the exact instant', () => {
    const softexp = now / 1000 + 100;
    assert.equal(isSoftExpired({ softexp }, now + 99_999), false);
    assert.equal(isSoftExpired({ softexp }, now + 100_000), true);
    assert.equal(isSoftExpired({ softexp }, now + 100_000, 2), false);
    assert.equal(isSoftExpired({}, now + 10 ** 9), false);
  });
  it('reads the kid without trusting anything else', () => {
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'k1' })).toString('base64url');
    assert.equal(readKeyId(`${header}.e30.c2ln`), 'k1');
    assert.equal(readKeyId('not a jwt'), null);
    assert.equal(readKeyId(`${Buffer.from('{"kid":5}').toString('base64url')}.e30.c2ln`), null);
    assert.equal(readKeyId(`${Buffer.from('[').toString('base64url')}.e30.c2ln`), null);
  });
  it('describes jose errors by code', () => {
    assert.equal(describeVerificationError({ code: 'ERR_JWT_EXPIRED' }), 'The access token expired.');
    assert.equal(
      describeVerificationError({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' }),
      'The access token has the wrong audience.',
    );
    assert.equal(describeVerificationError(new Error('x')), 'The access token is invalid.');
  });
});

describe('parseWireRevocation', () => {
  it('keeps well-formed entries and drops the rest', () => {
    assert.deepEqual(parseWireRevocation({ type: 'session', sid: 's', sub: 'u', at_ms: 1, until_ms: 2 }), {
      type: 'session',
      sid: 's',
      sub: 'u',
      at_ms: 1,
      until_ms: 2,
    });
    assert.deepEqual(parseWireRevocation({ type: 'user', sub: 'u', min_ver: 3, until_ms: 9 }), {
      type: 'user',
      sub: 'u',
      min_ver: 3,
      at_ms: 0,
      until_ms: 9,
    });
    for (const bad of [
      null,
      1,
      {},
      { type: 'session', until_ms: 1 },
      { type: 'user', sub: 'u', min_ver: 'x', until_ms: 1 },
      { type: 'global', until_ms: 1 },
    ]) {
      assert.equal(parseWireRevocation(bad), null);
    }
  });
});
