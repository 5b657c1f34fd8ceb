import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { isTesseraError } from '../errors.ts';
import { createTestDpopKey, signTestDpopProof, type TestDpopKey } from '../testing/dpop-proof.ts';
import { createEngineFixture, type EngineFixture, must } from '../testing/engine-fixture.ts';
import { POLICY_NAMES } from './policies/registry.ts';
import type { WebhookMessage } from './webhook-events.ts';

const PASSWORD = 'correct horse battery staple';
const URL_REFRESH = 'http://127.0.0.1:4000/auth/refresh';
const URL_ME = 'http://127.0.0.1:4000/auth/me';

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTesseraError(error), String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

const nowSeconds = (f: EngineFixture) => Math.floor(f.clock.now() / 1000);

/** A proof for `url` by `key`, checked by the engine: the thumbprint it returns. */
async function proofJkt(f: EngineFixture, key: TestDpopKey, url = URL_REFRESH, extra = {}): Promise<string> {
  const proof = await signTestDpopProof(key, { htm: 'POST', htu: url, iat: nowSeconds(f), ...extra });
  return must(await f.engine.verifyDpopProof({ proof, method: 'POST', url }));
}

async function boundLogin(f: EngineFixture, key: TestDpopKey) {
  await f.engine.register({ email: 'ada@example.com', password: PASSWORD });
  return f.engine.login({ email: 'ada@example.com', password: PASSWORD, dpopJkt: await proofJkt(f, key) });
}

describe('DPoP proofs (engine.verifyDpopProof)', () => {
  it('returns the RFC 7638 thumbprint of a valid proof for ES256, EdDSA (also named Ed25519) and RS256 keys', async () => {
    const f = await createEngineFixture();
    for (const alg of ['ES256', 'EdDSA', 'Ed25519', 'RS256'] as const) {
      const key = await createTestDpopKey(alg);
      assert.equal(await proofJkt(f, key), key.jkt, alg);
    }
  });

  it('returns null without a proof, and ignores proofs when DPoP is off', async () => {
    const f = await createEngineFixture();
    assert.equal(await f.engine.verifyDpopProof({ proof: null, method: 'POST', url: URL_REFRESH }), null);
    const off = await createEngineFixture({ dpop: 'off' });
    const proof = await signTestDpopProof(await createTestDpopKey(), {
      htm: 'POST',
      htu: URL_REFRESH,
      iat: nowSeconds(off),
    });
    assert.equal(await off.engine.verifyDpopProof({ proof, method: 'POST', url: URL_REFRESH }), null);
  });

  it('refuses a replayed proof, another method or URL, a stale or future iat, a bad signature', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const iat = nowSeconds(f);
    const check = (proof: string, method = 'POST', url = URL_REFRESH, accessToken?: string) =>
      f.engine.verifyDpopProof({ proof, method, url, accessToken });
    const proof = await signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat });
    await check(proof);
    await rejectsWith(check(proof), 'invalid_dpop_proof', /already used/);
    const fresh = () => signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat });
    await rejectsWith(check(await fresh(), 'GET'), 'invalid_dpop_proof', /htm/);
    await rejectsWith(
      check(await fresh(), 'POST', 'http://127.0.0.1:4000/oauth/token'),
      'invalid_dpop_proof',
      /htu/,
    );
    const stale = await signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat: iat - 61 });
    await rejectsWith(check(stale), 'invalid_dpop_proof', /iat/);
    const future = await signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat: iat + 6 });
    await rejectsWith(check(future), 'invalid_dpop_proof', /iat/);
    const other = await createTestDpopKey();
    const forged = await signTestDpopProof(other, {
      htm: 'POST',
      htu: URL_REFRESH,
      iat,
      header: { jwk: key.publicJwk },
    });
    await rejectsWith(check(forged), 'invalid_dpop_proof', /signature/);
    const hmac = `${Buffer.from('{"alg":"HS256","typ":"dpop+jwt"}').toString('base64url')}.e30.c2ln`;
    await rejectsWith(check(hmac), 'invalid_dpop_proof', /alg/);
    await rejectsWith(check('a.b.c, d.e.f'), 'invalid_dpop_proof', /one compact JWS/);
    await rejectsWith(
      check(await fresh(), 'POST', URL_REFRESH, 'an.access.token'),
      'invalid_dpop_proof',
      /ath/,
    );
  });

  it('verifies ES256, EdDSA, Ed25519 and RS256 proofs; refuses crit, an altered payload or signature', async () => {
    const f = await createEngineFixture();
    const iat = nowSeconds(f);
    const check = (proof: string) => f.engine.verifyDpopProof({ proof, method: 'POST', url: URL_REFRESH });
    for (const alg of ['ES256', 'EdDSA', 'Ed25519', 'RS256'] as const) {
      const key = await createTestDpopKey(alg);
      assert.equal(
        await check(await signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat })),
        key.jkt,
      );
    }
    const key = await createTestDpopKey();
    const critical = await signTestDpopProof(key, {
      htm: 'POST',
      htu: URL_REFRESH,
      iat,
      header: { crit: ['b64'], b64: true },
    });
    await rejectsWith(check(critical), 'invalid_dpop_proof', /signature/);
    const [header, payload, signature] = (
      await signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat })
    ).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, jti: 'another' })).toString('base64url');
    await rejectsWith(check(`${header}.${altered}.${signature}`), 'invalid_dpop_proof', /signature/);
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('A') ? 'B' : 'A'}${signature.slice(-1)}`;
    await rejectsWith(check(`${header}.${payload}.${flipped}`), 'invalid_dpop_proof', /signature/);
    await rejectsWith(
      check(`${header}.${payload}.${signature.slice(0, 40)}`),
      'invalid_dpop_proof',
      /signature/,
    );
    // The untouched proof still passes once: none of the refusals above used up its jti.
    await check(`${header}.${payload}.${signature}`);
  });

  it('keeps the window edges by the injected clock, with a configurable maximum age', async () => {
    const f = await createEngineFixture({ dpopProofMaxAgeSeconds: 30 });
    const key = await createTestDpopKey();
    const iat = nowSeconds(f);
    const at = async (age: number) =>
      f.engine.verifyDpopProof({
        proof: await signTestDpopProof(key, { htm: 'POST', htu: URL_REFRESH, iat: iat - age }),
        method: 'POST',
        url: URL_REFRESH,
      });
    assert.equal(await at(30), key.jkt);
    await rejectsWith(at(31), 'invalid_dpop_proof', /iat/);
  });

  it('forgets a jti only after the window in which its proof could pass', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const jti = 'same-jti';
    await proofJkt(f, key, URL_REFRESH, { jti });
    f.clock.advance(60_000);
    // Still inside the window (iat just fresh): the replay cache holds the jti.
    await rejectsWith(proofJkt(f, key, URL_REFRESH, { jti }), 'invalid_dpop_proof', /already used/);
    f.clock.advance(7_000);
    assert.equal(await proofJkt(f, key, URL_REFRESH, { jti }), key.jkt);
  });

  it('requires a proof on token requests under required, not on resource requests', async () => {
    const f = await createEngineFixture({ dpop: 'required' });
    await rejectsWith(
      f.engine.verifyDpopProof({ proof: null, method: 'POST', url: URL_REFRESH }),
      'invalid_dpop_proof',
    );
    assert.equal(
      await f.engine.verifyDpopProof({ proof: null, method: 'GET', url: URL_ME, accessToken: 'x' }),
      null,
    );
  });

  it('asks for a server nonce, accepts the current and previous window, and rotates', async () => {
    const f = await createEngineFixture({ dpopNonce: true });
    const other = await createEngineFixture({ dpopNonce: true });
    const key = await createTestDpopKey();
    let refusal: unknown;
    await proofJkt(f, key).catch((error: unknown) => {
      refusal = error;
    });
    assert.ok(isTesseraError(refusal) && refusal.code === 'use_dpop_nonce');
    const nonce = (refusal as unknown as { nonce: string }).nonce;
    assert.equal(nonce, f.engine.dpopNonce());
    // Stateless: another instance with the same secret accepts it.
    other.clock.set(f.clock.now());
    assert.equal(await proofJkt(other, key, URL_REFRESH, { nonce }), key.jkt);
    assert.equal(await proofJkt(f, key, URL_REFRESH, { nonce }), key.jkt);
    f.clock.advance(300_000);
    assert.notEqual(f.engine.dpopNonce(), nonce);
    assert.equal(await proofJkt(f, key, URL_REFRESH, { nonce }), key.jkt);
    f.clock.advance(300_000);
    await rejectsWith(proofJkt(f, key, URL_REFRESH, { nonce }), 'use_dpop_nonce');
    await rejectsWith(proofJkt(f, key, URL_REFRESH, { nonce: `${nonce.slice(0, -1)}A` }), 'use_dpop_nonce');
    const noNonces = await createEngineFixture();
    assert.equal(noNonces.engine.dpopNonce(), null);
  });

  it('refuses bad option values, naming them', async () => {
    for (const options of [
      { dpop: 'on' },
      { dpopNonce: 'on' },
      { dpopProofMaxAgeSeconds: 4 },
      { dpopReplayCache: {} },
    ]) {
      await rejectsWith(
        createEngineFixture(options as never),
        'invalid_configuration',
        new RegExp(Object.keys(options)[0] as string),
      );
    }
  });
});

describe('DPoP-bound sessions', () => {
  it('binds a session started with a proof: DPoP token type, cnf.jkt, stored thumbprint', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const tokens = await boundLogin(f, key);
    assert.equal(tokens.tokenType, 'DPoP');
    assert.deepEqual(decodeJwt(tokens.accessToken).cnf, { jkt: key.jkt });
    assert.equal((await f.store.findSession(tokens.sessionId))?.dpopJkt, key.jkt);
    const plain = await f.engine.login({ email: 'ada@example.com', password: PASSWORD });
    assert.equal(plain.tokenType, 'Bearer');
    assert.equal(decodeJwt(plain.accessToken).cnf, undefined);
  });

  it('refuses a bound access token without its proof, with another key, and an unbound one as DPoP', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const tokens = await boundLogin(f, key);
    await rejectsWith(f.engine.authenticate(tokens.accessToken), 'invalid_token', /DPoP-bound/);
    const other = await createTestDpopKey();
    await rejectsWith(
      f.engine.authenticate(tokens.accessToken, { dpopJkt: other.jkt }),
      'invalid_dpop_proof',
    );
    const auth = await f.engine.authenticate(tokens.accessToken, { dpopJkt: key.jkt });
    assert.equal(auth.session.id, tokens.sessionId);
    const plain = await f.engine.login({ email: 'ada@example.com', password: PASSWORD });
    await rejectsWith(
      f.engine.authenticate(plain.accessToken, { dpopJkt: key.jkt }),
      'invalid_token',
      /not DPoP-bound/,
    );
    await rejectsWith(f.engine.authenticate(plain.accessToken, { dpopJkt: 'short' }), 'invalid_request');
  });

  it('refuses a proof-less or other-key refresh, reports session.dpop_mismatch, keeps the session', async () => {
    const f = await createEngineFixture({ reuseGraceSeconds: 0 });
    const key = await createTestDpopKey();
    const tokens = await boundLogin(f, key);
    const refreshToken = must(tokens.refreshToken);
    await rejectsWith(f.engine.refresh({ refreshToken }), 'invalid_grant', /bound to a DPoP key/);
    const other = await createTestDpopKey();
    await rejectsWith(
      f.engine.refresh({ refreshToken, dpopJkt: await proofJkt(f, other) }),
      'invalid_grant',
      /not made with the key/,
    );
    const mismatches = f.events.filter((e) => e.type === 'session.dpop_mismatch');
    assert.deepEqual(
      mismatches.map((e) => e.type === 'session.dpop_mismatch' && [e.sessionId, e.proof]),
      [
        [tokens.sessionId, 'missing_proof'],
        [tokens.sessionId, 'other_key'],
      ],
    );
    const session = must(await f.store.findSession(tokens.sessionId));
    assert.equal(session.revokedAtMs, null);
    assert.equal(session.generation, 1);
    const renewed = await f.engine.refresh({ refreshToken, dpopJkt: await proofJkt(f, key) });
    assert.equal(renewed.tokenType, 'DPoP');
    assert.deepEqual(decodeJwt(renewed.accessToken).cnf, { jkt: key.jkt });
    // An old generation without the key is refused as a mismatch, not treated as reuse.
    await rejectsWith(f.engine.refresh({ refreshToken }), 'invalid_grant', /bound to a DPoP key/);
    assert.equal((await f.store.findSession(tokens.sessionId))?.revokedAtMs, null);
  });

  it('binds an unbound session at its first refresh with a proof', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const tokens = await f.engine.register({ email: 'ada@example.com', password: PASSWORD });
    const renewed = await f.engine.refresh({
      refreshToken: must(tokens.refreshToken),
      dpopJkt: await proofJkt(f, key),
    });
    assert.equal(renewed.tokenType, 'DPoP');
    assert.deepEqual(decodeJwt(renewed.accessToken).cnf, { jkt: key.jkt });
    assert.equal((await f.store.findSession(tokens.sessionId))?.dpopJkt, key.jkt);
    await rejectsWith(f.engine.refresh({ refreshToken: must(renewed.refreshToken) }), 'invalid_grant');
  });

  it('writes the session.dpop_mismatch webhook with the presenter, no token', async () => {
    const delivered: WebhookMessage[] = [];
    const f = await createEngineFixture({
      deliver: async (message) => {
        delivered.push(message);
      },
    });
    const key = await createTestDpopKey();
    const tokens = await boundLogin(f, key);
    await rejectsWith(
      f.engine.refresh({ refreshToken: must(tokens.refreshToken), ip: '203.0.113.9', userAgent: 'curl/8' }),
      'invalid_grant',
    );
    await f.engine.deliverWebhooks();
    const event = delivered.find((m) => m.type === 'session.dpop_mismatch');
    assert.deepEqual(event?.data, {
      user_id: tokens.userId,
      session_id: tokens.sessionId,
      device_name: null,
      ip: '203.0.113.9',
      user_agent: 'curl/8',
      proof: 'missing_proof',
    });
    await f.engine.close();
  });

  it('introspection reports the binding (cnf, token_type DPoP)', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const tokens = await boundLogin(f, key);
    const result = await f.engine.introspect(tokens.accessToken);
    assert.equal(result.active, true);
    assert.deepEqual(result.active && result.cnf, { jkt: key.jkt });
    assert.equal(result.active && result.token_type, 'DPoP');
  });

  it('every policy binds its token and refuses its renewal without the key', async () => {
    for (const policy of POLICY_NAMES) {
      const f = await createEngineFixture({ policy });
      const key = await createTestDpopKey();
      const tokens = await boundLogin(f, key);
      assert.equal(tokens.tokenType, 'DPoP', policy);
      assert.deepEqual(decodeJwt(tokens.accessToken).cnf, { jkt: key.jkt }, policy);
      await rejectsWith(f.engine.authenticate(tokens.accessToken), 'invalid_token');
      const auth = await f.engine.authenticate(tokens.accessToken, { dpopJkt: key.jkt });
      const settings = f.engine.settings;
      if (settings.renewal === 'refresh') {
        await rejectsWith(f.engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
      } else if (settings.renewal === 'soft') {
        f.clock.advance(must(settings.softTtlSeconds) * 1000);
        await rejectsWith(f.engine.renew(tokens.accessToken), 'invalid_grant', /DPoP/);
        const renewed = await f.engine.renew(tokens.accessToken, { dpopJkt: key.jkt });
        assert.deepEqual(decodeJwt(renewed.accessToken).cnf, { jkt: key.jkt }, policy);
      } else if (settings.renewal === 'exchange') {
        f.clock.advance(settings.accessTtlSeconds * 1000);
        const handle = must(tokens.sessionHandle);
        await rejectsWith(f.engine.exchangeExpired(tokens.accessToken, handle), 'invalid_grant', /DPoP/);
        const renewed = await f.engine.exchangeExpired(tokens.accessToken, handle, { dpopJkt: key.jkt });
        assert.deepEqual(decodeJwt(renewed.accessToken).cnf, { jkt: key.jkt }, policy);
      } else if (settings.renewal === 'sliding') {
        f.clock.advance(settings.accessTtlSeconds * 600);
        const slid = must(await f.engine.slide(auth));
        assert.deepEqual(decodeJwt(slid.accessToken).cnf, { jkt: key.jkt }, policy);
      }
      assert.ok(
        settings.renewal === 'none' ||
          settings.renewal === 'sliding' ||
          f.events.some((e) => e.type === 'session.dpop_mismatch'),
        policy,
      );
      await f.engine.close();
    }
  });

  it('binds sessions the app starts itself', async () => {
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    const user = await f.engine.createUser({ email: 'ada@example.com' });
    const tokens = await f.engine.startSession({ userId: user.id, amr: ['hwk'], dpopJkt: key.jkt });
    assert.equal(tokens.tokenType, 'DPoP');
  });
});
