import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  checkDpopProof,
  checkDpopProofHeader,
  computeDpopAth,
  dpopChallenge,
  normalizeHtu,
  readConfirmationThumbprint,
  readDpopHeader,
} from './index.ts';

const EC_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};
const NOW = 1_800_000_000;
const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: EC_JWK };
const payload = { jti: 'j-1', htm: 'POST', htu: 'https://auth.example/auth/refresh', iat: NOW };
const expect = { method: 'POST', url: 'https://auth.example/auth/refresh', nowSeconds: NOW };

async function refusal(h: Record<string, unknown>, p: Record<string, unknown>, e = expect) {
  const result = await checkDpopProof(h, p, e);
  assert.equal(result.ok, false);
  return result.ok ? null : result;
}

describe('readDpopHeader', () => {
  it('reads one compact JWS; none when absent', () => {
    assert.deepEqual(readDpopHeader(null), { kind: 'none' });
    assert.deepEqual(readDpopHeader(' a.b.c '), { kind: 'proof', jwt: 'a.b.c' });
  });
  it('calls two proofs, an empty value, a non-JWS and an over-long value malformed', () => {
    for (const value of ['', 'a.b.c, d.e.f', 'a.b', 'a.b.c.d', 'a.b=.c', `a.${'b'.repeat(9000)}.c`])
      assert.equal(readDpopHeader(value).kind, 'malformed', value.slice(0, 20));
  });
});

describe('checkDpopProofHeader', () => {
  it('accepts ES256 with a P-256 key, EdDSA with Ed25519, RS256 with a 2048-bit key', () => {
    assert.equal(checkDpopProofHeader(header).ok, true);
    const ed = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    assert.equal(checkDpopProofHeader({ typ: 'dpop+jwt', alg: 'EdDSA', jwk: ed }).ok, true);
    assert.equal(checkDpopProofHeader({ typ: 'dpop+jwt', alg: 'Ed25519', jwk: ed }).ok, true);
    assert.equal(checkDpopProofHeader({ typ: 'dpop+jwt', alg: 'Ed25519', jwk: EC_JWK }).ok, false);
    const rsa = { kty: 'RSA', e: 'AQAB', n: 'A'.repeat(342) };
    assert.equal(checkDpopProofHeader({ typ: 'dpop+jwt', alg: 'RS256', jwk: rsa }).ok, true);
  });
  it('refuses a wrong typ, a symmetric/none/unknown alg, a missing, private or mismatched jwk', () => {
    const cases: Record<string, unknown>[] = [
      { ...header, typ: 'JWT' },
      { ...header, typ: undefined },
      { ...header, alg: 'HS256' },
      { ...header, alg: 'none' },
      { ...header, alg: 'ES384' },
      { ...header, jwk: undefined },
      { ...header, jwk: 'key' },
      { ...header, jwk: [EC_JWK] },
      { ...header, jwk: { ...EC_JWK, d: 'private' } },
      { ...header, jwk: { kty: 'oct', k: 'secret' } },
      { ...header, jwk: { ...EC_JWK, crv: 'P-384' } },
      { ...header, jwk: { ...EC_JWK, y: undefined } },
      { ...header, alg: 'EdDSA' },
      { ...header, alg: 'RS256', jwk: { kty: 'RSA', e: 'AQAB', n: 'A'.repeat(171) } },
    ];
    for (const h of cases) {
      const result = checkDpopProofHeader(h);
      assert.equal(result.ok, false, JSON.stringify(h));
      assert.equal(result.ok ? '' : result.error, 'invalid_dpop_proof');
    }
  });
});

describe('normalizeHtu', () => {
  it('drops query and fragment and applies RFC 3986 §6.2.2 normalization', () => {
    assert.equal(
      normalizeHtu('https://Auth.Example:443/a/../auth/refresh?x=1#f'),
      'https://auth.example/auth/refresh',
    );
    assert.equal(normalizeHtu('HTTP://auth.example:80'), 'http://auth.example/');
    assert.equal(normalizeHtu('https://auth.example/%7euser/%2f'), 'https://auth.example/~user/%2F');
    assert.equal(normalizeHtu('https://auth.example:8443/x'), 'https://auth.example:8443/x');
  });
  it('is null for relative, non-http and unparsable URLs', () => {
    for (const url of ['/auth/refresh', 'ftp://auth.example/', 'javascript:alert(1)', 'http://', ''])
      assert.equal(normalizeHtu(url), null, url);
  });
});

describe('checkDpopProof', () => {
  it('accepts a fitting proof and returns its jti, iat and key', async () => {
    const result = await checkDpopProof(header, payload, expect);
    assert.deepEqual(result, { ok: true, alg: 'ES256', jwk: EC_JWK, jti: 'j-1', iat: NOW });
  });
  it('accepts htu with another query, case or default port', async () => {
    const p = { ...payload, htu: 'https://AUTH.example:443/auth/refresh' };
    const ok = await checkDpopProof(header, p, { ...expect, url: `${expect.url}?q=1` });
    assert.equal(ok.ok, true);
  });
  it('refuses each failed claim with invalid_dpop_proof', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['jti', { ...payload, jti: undefined }],
      ['jti', { ...payload, jti: '' }],
      ['jti', { ...payload, jti: 'j'.repeat(257) }],
      ['htm', { ...payload, htm: 'GET' }],
      ['htm', { ...payload, htm: 'post' }],
      ['htu', { ...payload, htu: 'https://auth.example/oauth/token' }],
      ['htu', { ...payload, htu: 'https://evil.example/auth/refresh' }],
      ['htu', { ...payload, htu: 42 }],
      ['iat', { ...payload, iat: '1800000000' }],
      ['iat', { ...payload, iat: NOW - 61 }],
      ['iat', { ...payload, iat: NOW + 6 }],
    ];
    for (const [claim, p] of cases) {
      const result = await refusal(header, p);
      assert.equal(result?.error, 'invalid_dpop_proof', claim);
      assert.match(result?.description ?? '', new RegExp(claim), claim);
    }
  });
  it('keeps the window edges and honours a custom window', async () => {
    assert.equal((await checkDpopProof(header, { ...payload, iat: NOW - 60 }, expect)).ok, true);
    assert.equal((await checkDpopProof(header, { ...payload, iat: NOW + 5 }, expect)).ok, true);
    const narrow = { ...expect, maxAgeSeconds: 10, leewaySeconds: 0 };
    assert.equal((await checkDpopProof(header, { ...payload, iat: NOW - 11 }, narrow)).ok, false);
    assert.equal((await checkDpopProof(header, { ...payload, iat: NOW + 1 }, narrow)).ok, false);
  });
  it('refuses a header failure before any claim', async () => {
    const result = await refusal({ ...header, alg: 'HS256' }, payload);
    assert.match(result?.description ?? '', /alg/);
  });
  it('requires ath = base64url(SHA-256(token)) when a token is presented', async () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.e30.sig';
    const ath = createHash('sha256').update(token).digest('base64url');
    assert.equal(await computeDpopAth(token), ath);
    const withToken = { ...expect, accessToken: token };
    assert.equal((await checkDpopProof(header, { ...payload, ath }, withToken)).ok, true);
    assert.equal((await refusal(header, payload, withToken))?.error, 'invalid_dpop_proof');
    const wrong = await refusal(header, { ...payload, ath: await computeDpopAth('other') }, withToken);
    assert.match(wrong?.description ?? '', /ath/);
  });
  it('answers use_dpop_nonce for a missing or refused nonce when one is required', async () => {
    const acceptNonce = (nonce: string) => nonce === 'n-1';
    const withNonce = { ...expect, acceptNonce };
    assert.equal((await checkDpopProof(header, { ...payload, nonce: 'n-1' }, withNonce)).ok, true);
    for (const nonce of [undefined, '', 'n-0', 7])
      assert.equal((await refusal(header, { ...payload, nonce }, withNonce))?.error, 'use_dpop_nonce');
  });
});

describe('readConfirmationThumbprint', () => {
  it('reads cnf.jkt, null otherwise', () => {
    assert.equal(readConfirmationThumbprint({ cnf: { jkt: 'abc' } }), 'abc');
    for (const claims of [{}, { cnf: null }, { cnf: { jkt: '' } }, { cnf: { jkt: 1 } }, { cnf: 'x' }])
      assert.equal(readConfirmationThumbprint(claims), null);
  });
});

describe('dpopChallenge', () => {
  it('lists the algorithms and quotes the description', () => {
    assert.equal(dpopChallenge(), 'DPoP algs="ES256 EdDSA Ed25519 RS256"');
    assert.equal(
      dpopChallenge('invalid_dpop_proof', 'bad "x"'),
      'DPoP error="invalid_dpop_proof", error_description="bad \\"x\\"", algs="ES256 EdDSA Ed25519 RS256"',
    );
    assert.equal(
      dpopChallenge('use_dpop_nonce', undefined, ['ES256']),
      'DPoP error="use_dpop_nonce", algs="ES256"',
    );
  });
});
