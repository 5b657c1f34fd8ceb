import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { freePort } from './helpers/child-server.ts';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

// A third-party OAuth client with its own DPoP implementation (oauth4webapi's `DPoP()` handle) against
// Tessera's RFC 6749 token endpoint over loopback: Tessera speaks RFC 9449 as others implement it, not
// only as its own client does.

let t: TestServer;
let as: oauth.AuthorizationServer;
const client: oauth.Client = { client_id: 'tessera' };
const clientAuth = oauth.None();
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A session started with a password over body transport (not bound yet): its refresh token. */
async function signIn(): Promise<string> {
  const response = await fetch(`${t.url}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'tessera-transport': 'body' },
    body: JSON.stringify({ email: `o4w${Date.now()}${Math.random()}@example.com`, password: PASSWORD }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { refresh_token: string }).refresh_token;
}

/** oauth4webapi's refresh grant with `dpop`, retrying once on `use_dpop_nonce` as its docs show. */
async function refresh(refreshToken: string, dpop?: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
  const send = () =>
    oauth
      .refreshTokenGrantRequest(as, client, clientAuth, refreshToken, {
        ...insecure,
        ...(dpop ? { DPoP: dpop } : {}),
      })
      .then((response) => oauth.processRefreshTokenResponse(as, client, response));
  try {
    return await send();
  } catch (error) {
    if (oauth.isDPoPNonceError(error)) return send();
    throw error;
  }
}

describe('oauth4webapi (its own DPoP) refreshing against /oauth/token', () => {
  before(async () => {
    const port = await freePort();
    // The wall clock: oauth4webapi dates its proofs by it.
    t = await startTestServer(
      { TESSERA_PORT: String(port), TESSERA_ISSUER: `http://127.0.0.1:${port}` },
      { realClock: true },
    );
    const issuer = new URL(t.url);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });
  after(() => t?.close());

  it('discovers the token endpoint and the DPoP algorithms from the RFC 8414 metadata', () => {
    assert.equal(as.token_endpoint, `${t.url}/oauth/token`);
    for (const alg of ['ES256', 'EdDSA', 'Ed25519'])
      assert.ok(as.dpop_signing_alg_values_supported?.includes(alg), alg);
  });

  for (const alg of ['ES256', 'EdDSA'] as const) {
    // oauth4webapi names Ed25519 proofs `alg: Ed25519` (RFC 9864's fully-specified name), not `EdDSA`.
    it(`${alg}: binds the session on the first proof, rotates with the same key, and its token works as DPoP`, async () => {
      const keyPair = await oauth.generateKeyPair(alg);
      const dpop = oauth.DPoP(client, keyPair);
      const jkt = await dpop.calculateThumbprint();
      const first = await refresh(await signIn(), dpop);
      assert.equal(first.token_type, 'dpop');
      assert.equal((decodeJwt(first.access_token).cnf as { jkt: string }).jkt, jkt);
      assert.ok(first.refresh_token);
      const second = await refresh(first.refresh_token, dpop);
      assert.equal(second.token_type, 'dpop');
      assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');
      const me = await oauth.protectedResourceRequest(
        second.access_token,
        'GET',
        new URL(`${t.url}/auth/me`),
        new Headers(),
        null,
        { DPoP: dpop, ...insecure },
      );
      assert.equal(me.status, 200);
    });
  }

  it('a bound refresh token is refused without a proof and with a proof by another key; the session lives on', async () => {
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const bound = await refresh(await signIn(), dpop);
    const stolen = bound.refresh_token as string;
    const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    for (const attempt of [undefined, thief]) {
      await assert.rejects(refresh(stolen, attempt), (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error));
        assert.equal(error.error, 'invalid_grant');
        assert.equal(error.status, 400);
        return true;
      });
    }
    const next = await refresh(stolen, dpop);
    assert.equal(next.token_type, 'dpop', 'the holder of the key still refreshes');
    assert.ok(t.events.filter((e) => e.type === 'session.dpop_mismatch').length >= 2);
  });
});

describe('oauth4webapi with TESSERA_DPOP_NONCE=on', () => {
  let n: TestServer;
  let nas: oauth.AuthorizationServer;
  before(async () => {
    const port = await freePort();
    n = await startTestServer(
      { TESSERA_PORT: String(port), TESSERA_ISSUER: `http://127.0.0.1:${port}`, TESSERA_DPOP_NONCE: 'on' },
      { realClock: true },
    );
    const issuer = new URL(n.url);
    nas = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });
  after(() => n?.close());

  it('gets use_dpop_nonce, and its DPoP handle retries with the server nonce, then keeps using it', async () => {
    const response = await fetch(`${n.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'tessera-transport': 'body' },
      body: JSON.stringify({ email: `nonce${Date.now()}@example.com`, password: PASSWORD }),
    });
    assert.equal(response.status, 201);
    const { refresh_token } = (await response.json()) as { refresh_token: string };
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const grant = (token: string) =>
      oauth
        .refreshTokenGrantRequest(nas, client, clientAuth, token, { ...insecure, DPoP: dpop })
        .then((r) => oauth.processRefreshTokenResponse(nas, client, r));
    await assert.rejects(grant(refresh_token), (error: unknown) => oauth.isDPoPNonceError(error));
    const first = await grant(refresh_token);
    assert.equal(first.token_type, 'dpop');
    const second = await grant(first.refresh_token as string);
    assert.equal(second.token_type, 'dpop', 'the remembered nonce is accepted at once');
  });
});
