import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VerifiedClaims, Verifier } from './create-verifier.ts';
import { VerifyError } from './errors.ts';
import { authenticateRequest, checkRequireAuthOptions, refusalResponse } from './request-auth.ts';

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

  it('answers RFC 6750: bare challenges (Bearer, and DPoP with its algs) without a token, 400 for a malformed or repeated header', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
      const { refusal } = await authenticateRequest(verifier, { headers }, { realm: 'orders' });
      assert.equal(refusal?.status, 401);
      assert.equal(
        refusal?.headers['www-authenticate'],
        'Bearer realm="orders", DPoP realm="orders", algs="ES256 EdDSA Ed25519 RS256"',
      );
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
    assert.match(
      bound.refusal?.headers['www-authenticate'] ?? '',
      /^DPoP realm="api", error="invalid_token"/,
    );
    // A verifier without verifyDpop (a stand-in) refuses the DPoP scheme rather than skip the proof.
    const dpop = await authenticateRequest(verifier, { headers: { authorization: 'DPoP good' } });
    assert.equal(dpop.refusal?.body.error, 'invalid_token');
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

describe('authenticateRequest with maxAge and acr (RFC 9470)', () => {
  const NOW_MS = 1_700_000_000_000;
  const signedInAt = NOW_MS / 1000 - 300;
  const stepUp = {
    async verify(token: string) {
      if (token === 'mfa') return { ...claims, auth_time: signedInAt, acr: '2' };
      if (token === 'old') return { ...claims, auth_time: signedInAt - 1, acr: '1' };
      return claims; // no auth_time, no acr
    },
    now: () => NOW_MS,
  } as Verifier;
  const headers = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it('accepts an authentication exactly maxAge old and refuses an older one with the challenge', async () => {
    assert.equal((await authenticateRequest(stepUp, headers('mfa'), { maxAge: 300 })).claims?.acr, '2');
    const { refusal } = await authenticateRequest(stepUp, headers('old'), { maxAge: 300, realm: 'orders' });
    assert.equal(refusal?.status, 401);
    assert.equal(
      refusal?.headers['www-authenticate'],
      'Bearer realm="orders", error="insufficient_user_authentication", error_description="This needs an authentication within the last 300 seconds; authenticate again.", max_age=300',
    );
    assert.deepEqual(refusal?.body, {
      error: 'insufficient_user_authentication',
      error_description: 'This needs an authentication within the last 300 seconds; authenticate again.',
      max_age: 300,
    });
    const none = await authenticateRequest(stepUp, headers('plain'), { maxAge: 3600 });
    assert.equal(none.refusal?.body.error, 'insufficient_user_authentication', 'no auth_time: refused');
    assert.equal((await authenticateRequest(stepUp, headers('plain'))).claims?.sid, 's1', 'no requirement');
  });

  it('requires acr to be one of the values, saying acr_values', async () => {
    assert.ok((await authenticateRequest(stepUp, headers('mfa'), { acr: '2' })).claims);
    assert.ok((await authenticateRequest(stepUp, headers('old'), { acr: ['2', '1'] })).claims);
    const { refusal } = await authenticateRequest(stepUp, headers('old'), { acr: '2', maxAge: 600 });
    assert.equal(refusal?.status, 401);
    assert.match(refusal?.headers['www-authenticate'] ?? '', /max_age=600, acr_values="2"$/);
    assert.equal(refusal?.body.acr_values, '2');
  });

  it('checks a bad token first (invalid_token, not a step-up), and measures time on the verifier clock', async () => {
    const { refusal } = await authenticateRequest(verifier, headers('expired'), { maxAge: 1 });
    assert.equal(refusal?.body.error, 'invalid_token');
    // A verifier made without `now` (a stand-in) is measured on Date.now.
    const wall = {
      async verify() {
        return { ...claims, auth_time: Date.now() / 1000 - 10 };
      },
    } as unknown as Verifier;
    assert.ok((await authenticateRequest(wall, headers('x'), { maxAge: 60 })).claims);
    assert.ok((await authenticateRequest(wall, headers('x'), { maxAge: 5 })).refusal);
  });

  it('refuses bad options when the middleware is made', () => {
    for (const options of [
      { maxAge: -1 },
      { maxAge: 1.5 },
      { maxAge: '300' },
      { acr: '' },
      { acr: 'a b' },
      { acr: 'a"b' },
      { acr: [2] },
      { realm: 5 },
    ]) {
      assert.throws(() => checkRequireAuthOptions(options as never), TypeError, JSON.stringify(options));
    }
    assert.deepEqual(checkRequireAuthOptions({ maxAge: 0, acr: ['1', 'urn:x:gold'] }), {
      maxAge: 0,
      acr: ['1', 'urn:x:gold'],
    });
  });
});
