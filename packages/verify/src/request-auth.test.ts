import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VerifiedClaims, Verifier } from './create-verifier.ts';
import { VerifyError } from './errors.ts';
import { authenticateRequest, refusalResponse } from './request-auth.ts';

const claims = {
  sub: 'u1',
  sid: 's1',
  ver: 1,
  iat: 1,
  exp: 2,
  iss: 'i',
  aud: 'a',
  jti: 'j',
} as VerifiedClaims;

/** A verifier that answers by token: `good`, `bound` (DPoP-bound claims), `down` (503), else refused. */
const verifier = {
  async verify(token: string) {
    if (token === 'good') return claims;
    if (token === 'bound') return { ...claims, cnf: { jkt: 'thumbprint' } };
    if (token === 'down') throw new VerifyError('temporarily_unavailable', 'Revocations are not current.');
    throw new VerifyError('invalid_token', 'The access token expired.');
  },
} as Verifier;

describe('authenticateRequest (the web-standard core of every adapter)', () => {
  it('takes a web Request or Node-style headers and answers the claims', async () => {
    const web = await authenticateRequest(
      verifier,
      new Request('http://x/me', { headers: { authorization: 'Bearer good' } }),
    );
    assert.equal(web.claims?.sid, 's1');
    const node = await authenticateRequest(verifier, { headers: { authorization: 'bearer good' } });
    assert.equal(node.claims?.sid, 's1');
  });

  it('answers RFC 6750: a bare challenge without a token, 400 for a malformed or repeated header', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'DPoP good' }]) {
      const { refusal } = await authenticateRequest(verifier, { headers }, { realm: 'orders' });
      assert.equal(refusal?.status, 401);
      assert.equal(refusal?.headers['www-authenticate'], 'Bearer realm="orders"');
      assert.equal(refusal?.body.error, undefined);
    }
    for (const headers of [
      { authorization: 'Bearer a b' },
      { authorization: ['Bearer good', 'Bearer good'] },
    ]) {
      const { refusal } = await authenticateRequest(verifier, { headers });
      assert.equal(refusal?.status, 400);
      assert.equal(refusal?.body.error, 'invalid_request');
      assert.match(
        refusal?.headers['www-authenticate'] ?? '',
        /^Bearer realm="api", error="invalid_request"/,
      );
    }
  });

  it('refuses a bad token with invalid_token, a DPoP-bound one presented as Bearer too, and says 503 when it cannot vouch', async () => {
    const bad = await authenticateRequest(verifier, { headers: { authorization: 'Bearer old' } });
    assert.equal(bad.refusal?.status, 401);
    assert.equal(
      bad.refusal?.headers['www-authenticate'],
      'Bearer realm="api", error="invalid_token", error_description="The access token expired."',
    );
    const bound = await authenticateRequest(verifier, { headers: { authorization: 'Bearer bound' } });
    assert.equal(bound.refusal?.status, 401);
    assert.match(bound.refusal?.body.error_description ?? '', /DPoP/);
    const down = await authenticateRequest(verifier, { headers: { authorization: 'Bearer down' } });
    assert.equal(down.refusal?.status, 503);
    assert.equal(down.refusal?.headers['retry-after'], '5');
  });

  it('builds a web Response for a refusal', async () => {
    const { refusal } = await authenticateRequest(verifier, { headers: { authorization: 'Bearer old' } });
    assert.ok(refusal);
    const response = refusalResponse(refusal);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.match(response.headers.get('www-authenticate') ?? '', /invalid_token/);
    assert.deepEqual(await response.json(), {
      error: 'invalid_token',
      error_description: 'The access token expired.',
    });
  });
});
