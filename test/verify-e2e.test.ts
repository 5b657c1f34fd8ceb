import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier, VerifyError } from '@tessera/verify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { call, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

const SERVICE_TOKEN = 'service-token-for-the-verifier-0123456789';
let t: TestServer;
let verifier: Verifier;

async function eventually(probe: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`not within ${ms} ms`);
}

const rejects = async (token: string, pattern?: RegExp) => {
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(error instanceof VerifyError, String(error));
    assert.equal(error.code, 'invalid_token');
    if (pattern) assert.match(error.description, pattern);
    return true;
  });
};

describe('@tessera/verify against a real server', () => {
  before(async () => {
    t = await startTestServer({ TESSERA_SERVICE_TOKEN: SERVICE_TOKEN });
    verifier = createVerifier(verifierOptions());
    await verifier.ready();
  });
  after(async () => {
    await verifier?.close();
    await t?.close();
  });

  it('verifies a token, caches it, and refuses it once its session ends (through the stream)', async () => {
    const user = await registerUser(t.url);
    const claims = await verifier.verify(user.access_token);
    assert.equal(claims.sid, user.session_id);
    assert.equal(verifier.status().cachedTokens >= 1, true);
    await verifier.verify(user.access_token); // cached
    await call(t.url, 'POST', '/auth/logout', { json: { refresh_token: user.refresh_token } });
    await eventually(() =>
      verifier.verify(user.access_token).then(
        () => false,
        () => true,
      ),
    );
    await rejects(user.access_token, /session/);
    const status = verifier.status();
    assert.equal(status.feedConnected, true);
    assert.ok(status.feedLagMs < 10_000);
  });

  it('refuses older token versions after a role change, and everything before an emergency revoke-all', async () => {
    const user = await registerUser(t.url);
    const other = await call(t.url, 'POST', '/auth/login', {
      json: { email: user.email, password: 'correct horse battery staple' },
    });
    await verifier.verify(other.body.access_token);
    const { user: record } = await t.server.engine.authenticate(user.access_token);
    await t.server.engine.updateUser(record.id, { roles: ['admin'] });
    await eventually(() =>
      verifier.verify(other.body.access_token).then(
        () => false,
        () => true,
      ),
    );
    await rejects(other.body.access_token, /outdated/);
    const fresh = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: other.body.refresh_token },
    });
    assert.deepEqual((await verifier.verify(fresh.body.access_token)).roles, ['admin']);
    t.clock.advance(1000);
    await t.server.engine.emergencyRevokeAll();
    await eventually(() =>
      verifier.verify(fresh.body.access_token).then(
        () => false,
        () => true,
      ),
    );
  });

  it('follows a key rotation by refetching the JWKS on an unknown kid', async () => {
    t.clock.advance(20_000);
    await t.server.engine.rotateSigningKey();
    const user = await registerUser(t.url);
    const claims = await verifier.verify(user.access_token);
    assert.equal(claims.sid, user.session_id);
  });

  it('refuses hostile tokens', async () => {
    const user = await registerUser(t.url);
    const [h, p, s] = user.access_token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwks = (await call(t.url, 'GET', '/.well-known/jwks.json')).body;
    await rejects(`${b64({ ...header, alg: 'none' })}.${p}.`);
    await rejects(
      await new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
        .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0]))),
    );
    await rejects(
      await new SignJWT(payload).setProtectedHeader(header).sign(foreign.privateKey),
      /signature/,
    );
    await rejects(
      await new SignJWT(payload)
        .setProtectedHeader({ ...header, jwk: await exportJWK(foreign.publicKey) })
        .sign(foreign.privateKey),
    );
    await rejects(`${b64({ ...header, typ: 'JWT' })}.${p}.${s}`);
    await rejects(`${h}.${b64({ ...payload, aud: 'other' })}.${s}`);
    await rejects('not.a.jwt');
    t.clock.advance(700_000);
    await rejects(user.access_token, /expired/);
  });

  it('falls back to introspection when the feed goes stale, or refuses, as configured', async () => {
    const user = await registerUser(t.url);
    // A feed that never answers: its lag is unbounded, so the staleness bound is always exceeded.
    const noFeed = { ...verifierOptions(), revocationsUrl: `${t.url}/no-such-feed`, maxStalenessMs: 1000 };
    const introspecting = createVerifier(noFeed);
    const refusing = createVerifier({ ...noFeed, onStale: 'reject' as const });
    try {
      assert.equal(introspecting.status().stale, true);
      const claims = await introspecting.verify(user.access_token);
      assert.equal(claims.sid, user.session_id);
      await assert.rejects(
        refusing.verify(user.access_token),
        (e: unknown) => e instanceof VerifyError && e.code === 'temporarily_unavailable',
      );
      await call(t.url, 'POST', '/auth/logout', { token: user.access_token });
      await assert.rejects(
        introspecting.verify(user.access_token),
        (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
      );
    } finally {
      await introspecting.close();
      await refusing.close();
    }
  });
});

function verifierOptions() {
  return {
    issuer: 'http://127.0.0.1:4000',
    audience: 'http://127.0.0.1:4000',
    jwksUrl: `${t.url}/.well-known/jwks.json`,
    revocationsUrl: `${t.url}/auth/revocations`,
    introspectionUrl: `${t.url}/oauth/introspect`,
    serviceToken: SERVICE_TOKEN,
    now: () => t.clock.now(),
  };
}
