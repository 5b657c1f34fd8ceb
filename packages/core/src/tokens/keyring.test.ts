import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createEngine } from '../engine/create-engine.ts';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, must, TEST_SECRET } from '../testing/engine-fixture.ts';

const PASSWORD = 'correct horse battery staple';
const ISSUER = 'http://127.0.0.1:4000';

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) =>
      isTesseraError(error) && error.code === code && (!message || message.test(error.message)),
  );
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('signing algorithms', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    it(`mints and verifies ${alg} access tokens per RFC 9068`, async () => {
      const { engine } = await createEngineFixture({ signingAlg: alg });
      const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
      const [header, payload] = tokens.accessToken
        .split('.')
        .slice(0, 2)
        .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
      assert.equal(header.alg, alg);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(typeof header.kid, 'string');
      for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'sid', 'ver']) {
        assert.ok(claim in payload, `missing ${claim}`);
      }
      assert.equal(payload.exp - payload.iat, 600);
      const jwks = await engine.jwks();
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0]?.alg, alg);
      assert.equal(jwks.keys[0]?.d, undefined, 'no private material in the JWKS');
      await engine.authenticate(tokens.accessToken);
    });
  }
});

describe('signing-key rotation', () => {
  it('signs with the new key at once and keeps the old one published until its tokens expired', async () => {
    const { engine, clock } = await createEngineFixture({ accessTtlSeconds: 600, clockLeewaySeconds: 2 });
    const before = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const oldKid = JSON.parse(
      Buffer.from(before.accessToken.split('.')[0] ?? '', 'base64url').toString(),
    ).kid;
    const newKid = await engine.rotateSigningKey();
    assert.notEqual(newKid, oldKid);
    const after = await engine.refresh({ refreshToken: must(before.refreshToken) });
    assert.equal(
      JSON.parse(Buffer.from(after.accessToken.split('.')[0] ?? '', 'base64url').toString()).kid,
      newKid,
    );
    assert.deepEqual((await engine.jwks()).keys.map((k) => k.kid).sort(), [newKid, oldKid].sort());
    await engine.authenticate(before.accessToken);
    // Retention: access TTL + leeway + one key-reload interval (30 s).
    clock.advance((600 + 2 + 30) * 1000 - 1);
    assert.equal((await engine.jwks()).keys.length, 2);
    clock.advance(1);
    await engine.sweep();
    assert.deepEqual(
      (await engine.jwks()).keys.map((k) => k.kid),
      [newKid],
    );
  });

  it('rotates to a newly configured algorithm at start and keeps keys across restarts', async () => {
    const { engine, store, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const again = await createEngine({
      store,
      secret: TEST_SECRET,
      issuer: ISSUER,
      signingAlg: 'ES256',
      clock,
    });
    const algs = (await again.jwks()).keys.map((k) => k.alg).sort();
    assert.deepEqual(algs, ['ES256', 'EdDSA']);
    await again.authenticate(tokens.accessToken);
    await assert.rejects(
      createEngine({ store, secret: new Uint8Array(32).fill(1), issuer: ISSUER, signingAlg: 'ES256' }),
      /TESSERA_SECRET/,
    );
  });
});

describe('hostile access tokens', () => {
  it('refuses every forgery and misuse with invalid_token', async () => {
    const { engine, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const [h, p] = tokens.accessToken.split('.');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    const publicJwk = (await engine.jwks()).keys[0];
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const sign = (claims: Record<string, unknown>, hdr: Record<string, unknown>, key = foreign.privateKey) =>
      new SignJWT(claims).setProtectedHeader(hdr as { alg: string }).sign(key);

    const cases: Array<[string, string, RegExp?]> = [
      ['alg none', `${b64({ ...header, alg: 'none' })}.${p}.`],
      ['alg none with signature', `${b64({ ...header, alg: 'none' })}.${p}.AAAA`],
      [
        'HS256 signed with the public key',
        await new SignJWT(payload)
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
          .sign(Buffer.from(JSON.stringify(publicJwk))),
        /algorithm|signature/,
      ],
      ['foreign key with our kid', await sign(payload, header), /signature/],
      [
        'foreign key embedded in the header',
        await sign(payload, { ...header, jwk: await exportJWK(foreign.publicKey) }),
      ],
      ['garbage kid', await sign(payload, { ...header, kid: 'no-such-key' }), /signing key/],
      ['kid not a string', `${b64({ ...header, kid: 42 })}.${p}.AAAA`, /signing key/],
      [
        'wrong typ',
        await engine.jwks().then(() => reSign(tokens.accessToken, { typ: 'JWT' })),
        /type|signature/,
      ],
      [
        'tampered payload',
        `${h}.${b64({ ...payload, roles: ['admin'] })}.${tokens.accessToken.split('.')[2]}`,
        /signature/,
      ],
      ['not a JWT', 'hello'],
      ['empty segments', '..'],
      ['header not JSON', `${Buffer.from('{').toString('base64url')}.${p}.AAAA`],
    ];
    for (const [name, token, message] of cases) {
      await rejectsWith(engine.authenticate(token), 'invalid_token', message).catch((error) => {
        throw new Error(`${name}: ${(error as Error).message}`);
      });
    }
    // Wrong issuer / audience: a second engine over another store signs valid tokens of its own.
    for (const other of [{ issuer: 'http://evil.example' }, { audience: 'some-other-api' }]) {
      const stranger = await createEngineFixture({ ...other, store: (await createEngineFixture()).store });
      const t = await stranger.engine.register({ email: 'eve@example.com', password: PASSWORD });
      await rejectsWith(engine.authenticate(t.accessToken), 'invalid_token');
    }
    clock.advance(700_000);
    await rejectsWith(engine.authenticate(tokens.accessToken), 'invalid_token', /expired/);
  });
});

/** Changes header fields of a token without re-signing it (the signature then fails). */
function reSign(token: string, headerPatch: Record<string, unknown>): string {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString());
  return `${b64({ ...header, ...headerPatch })}.${p}.${s}`;
}
