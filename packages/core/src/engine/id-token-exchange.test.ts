import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createSqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { createEngineFixture, type EngineFixture, must } from '../testing/engine-fixture.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../testing/identity-provider.ts';
import { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, REFRESH_TOKEN_TYPE } from './id-token-exchange.ts';
import type { EngineOptions } from './options.ts';

const AUDIENCE = 'tessera-app';
let idp: TestIdentityProvider;
let other: TestIdentityProvider;
before(async () => {
  idp = await startTestIdentityProvider(AUDIENCE);
  other = await startTestIdentityProvider(AUDIENCE);
});
after(async () => {
  await idp.close();
  await other.close();
});

async function fixture(options: Partial<EngineOptions> = {}, mergeByEmail = false): Promise<EngineFixture> {
  return createEngineFixture({
    trustedIssuers: [{ issuer: idp.issuer, audience: AUDIENCE, mergeByEmail }],
    trustedIssuerFetch: { cooldownSeconds: 0 },
    ...options,
  });
}

/** Users, identities and live sessions: what a refused exchange must leave as it was. */
async function snapshot({ engine, store, clock }: EngineFixture) {
  const { users } = await engine.listUsers({ limit: 200 });
  const rows = [];
  for (const user of users) {
    rows.push({
      user,
      identities: await store.listIdentities(user.id),
      sessions: (await store.listLiveSessions(user.id, clock.now())).map((s) => s.id),
    });
  }
  return rows;
}

async function refused(promise: Promise<unknown>, code: string, label: string): Promise<string> {
  const error = await promise.then(
    () => assert.fail(`${label}: accepted`),
    (e: unknown) => e,
  );
  assert.ok(isTesseraError(error), `${label}: ${String(error)}`);
  assert.equal(error.code, code, `${label}: ${error.message}`);
  assert.ok(error.status >= 400 && error.status < 500, label);
  return error.message;
}

describe('exchangeIdToken', () => {
  it('creates the user at the first sign-in, then always maps the identity to it', async () => {
    const f = await fixture();
    const nowMs = f.clock.now();
    const idToken = await idp.sign(
      { sub: 'alice', email: 'Alice@Example.com', email_verified: true, nonce: 'n-1' },
      { nowMs },
    );
    const first = await f.engine.exchangeIdToken({
      subjectToken: idToken,
      subjectTokenType: ID_TOKEN_TYPE,
      nonce: 'n-1',
      deviceName: 'Phone',
    });
    assert.equal(first.issuedTokenType, REFRESH_TOKEN_TYPE);
    assert.equal(first.newUser, true);
    const claims = decodeJwt(first.accessToken);
    assert.deepEqual(claims.amr, ['ext']);
    const user = await f.engine.getUser(first.userId);
    assert.equal(user.email, 'alice@example.com');
    assert.equal(user.emailVerified, true);
    assert.deepEqual(
      (await f.engine.listIdentities(user.id)).map((i) => [i.issuer, i.subject]),
      [[idp.issuer, 'alice']],
    );
    const again = await f.engine.exchangeIdToken({
      subjectToken: await idp.sign({ sub: 'alice' }, { nowMs }),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    assert.equal(again.userId, user.id);
    assert.equal(again.newUser, false);
    assert.equal((await f.engine.listSessions(user.id, null)).length, 2);
    // The session is like any other: it rotates and ends.
    const rotated = await f.engine.refresh({ refreshToken: must(first.refreshToken) });
    assert.equal(rotated.sessionId, first.sessionId);
    assert.ok(f.events.some((e) => e.type === 'user.created' && e.source === 'external'));
  });

  it('takes the email only when the provider verified it', async () => {
    const f = await fixture();
    const tokens = await f.engine.exchangeIdToken({
      subjectToken: await idp.sign(
        { sub: 'bob', email: 'bob@example.com', email_verified: 'true' },
        { nowMs: f.clock.now() },
      ),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    const user = await f.engine.getUser(tokens.userId);
    assert.equal(user.email, null);
    assert.equal(user.emailVerified, false);
  });

  it('refuses every token it must not trust, with a 4xx, and changes nothing', async () => {
    const f = await fixture();
    // One good sign-in first, so "nothing changes" covers an existing user too.
    await f.engine.exchangeIdToken({
      subjectToken: await idp.sign({ sub: 'alice' }, { nowMs: f.clock.now() }),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    const before = await snapshot(f);
    const nowMs = f.clock.now();
    const unpublished = await idp.newKey();
    const hmacKey = new TextEncoder().encode('a shared secret of at least 32 bytes!!');
    const cases: Array<[string, () => Promise<string>, Record<string, unknown>?]> = [
      ['signed by another key', () => idp.sign({ sub: 'mallory' }, { nowMs, key: unpublished })],
      [
        'signed by another key under a published kid',
        () => idp.sign({ sub: 'alice' }, { nowMs, key: { ...unpublished, kid: idp.key.kid } }),
      ],
      ['for another audience', () => idp.sign({ sub: 'mallory', aud: 'other-app' }, { nowMs })],
      ['from an untrusted issuer', () => other.sign({ sub: 'mallory' }, { nowMs })],
      [
        'claiming a trusted issuer, signed by another',
        () => other.sign({ sub: 'alice', iss: idp.issuer }, { nowMs }),
      ],
      [
        'with an issuer that differs by a slash',
        () => idp.sign({ sub: 'alice', iss: `${idp.issuer}/` }, { nowMs }),
      ],
      ['expired', () => idp.sign({ sub: 'alice' }, { nowMs: nowMs - 3_600_000 })],
      [
        'issued too long ago',
        () => idp.sign({ sub: 'alice', exp: Math.floor(nowMs / 1000) + 60 }, { nowMs: nowMs - 7_200_000 }),
      ],
      ['issued in the future', () => idp.sign({ sub: 'alice' }, { nowMs: nowMs + 120_000 })],
      ['with a wrong nonce', () => idp.sign({ sub: 'alice', nonce: 'other' }, { nowMs }), { nonce: 'mine' }],
      ['without the nonce sent', () => idp.sign({ sub: 'alice' }, { nowMs }), { nonce: 'mine' }],
      ['without a subject', () => idp.sign({ sub: undefined }, { nowMs })],
      ['with an empty subject', () => idp.sign({ sub: '' }, { nowMs })],
      ['without an audience', () => idp.sign({ sub: 'alice', aud: undefined }, { nowMs })],
      [
        'with several audiences and no azp',
        () => idp.sign({ sub: 'alice', aud: [AUDIENCE, 'other-app'] }, { nowMs }),
      ],
      ['with another azp', () => idp.sign({ sub: 'alice', azp: 'other-app' }, { nowMs })],
      ['typed as an access token', () => idp.sign({ sub: 'alice' }, { nowMs, header: { typ: 'at+jwt' } })],
      [
        'unsigned (alg none)',
        async () =>
          new UnsecuredJWT({
            iss: idp.issuer,
            aud: AUDIENCE,
            sub: 'alice',
            iat: nowMs / 1000,
            exp: nowMs / 1000 + 300,
          }).encode(),
      ],
      [
        'signed with HS256',
        () =>
          new SignJWT({ sub: 'alice', aud: AUDIENCE, iss: idp.issuer })
            .setProtectedHeader({ alg: 'HS256', kid: idp.key.kid })
            .setIssuedAt(Math.floor(nowMs / 1000))
            .setExpirationTime(Math.floor(nowMs / 1000) + 300)
            .sign(hmacKey),
      ],
      ['garbled', async () => 'not.a.jwt'],
      [
        'with a tampered payload',
        async () => {
          const [h, , s] = (await idp.sign({ sub: 'alice' }, { nowMs })).split('.');
          const payload = Buffer.from(
            JSON.stringify({
              iss: idp.issuer,
              aud: AUDIENCE,
              sub: 'root',
              iat: nowMs / 1000,
              exp: nowMs / 1000 + 300,
            }),
          ).toString('base64url');
          return `${h}.${payload}.${s}`;
        },
      ],
    ];
    for (const [label, make, extra] of cases) {
      await refused(
        f.engine.exchangeIdToken({ subjectToken: await make(), subjectTokenType: ID_TOKEN_TYPE, ...extra }),
        'invalid_grant',
        label,
      );
    }
    const good = await idp.sign({ sub: 'alice' }, { nowMs });
    for (const [label, input] of [
      [
        'another subject token type',
        { subjectToken: good, subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt' },
      ],
      ['no subject token', { subjectTokenType: ID_TOKEN_TYPE }],
      ['a number as subject token', { subjectToken: 5, subjectTokenType: ID_TOKEN_TYPE }],
      ['an oversized token', { subjectToken: 'x'.repeat(9000), subjectTokenType: ID_TOKEN_TYPE }],
      ['an empty nonce', { subjectToken: good, subjectTokenType: ID_TOKEN_TYPE, nonce: '' }],
      ['a bad device name', { subjectToken: good, subjectTokenType: ID_TOKEN_TYPE, deviceName: '\u0000' }],
    ] as const) {
      await refused(f.engine.exchangeIdToken(input as never), 'invalid_request', label);
    }
    assert.deepEqual(await snapshot(f), before);
  });

  it('refuses any exchange when no issuer is trusted', async () => {
    const f = await createEngineFixture();
    assert.deepEqual(f.engine.settings.trustedIssuers, []);
    await refused(
      f.engine.exchangeIdToken({
        subjectToken: await idp.sign({ sub: 'alice' }, { nowMs: f.clock.now() }),
        subjectTokenType: ID_TOKEN_TYPE,
      }),
      'invalid_grant',
      'no issuer',
    );
  });

  it('never merges into an account by email unless configured and verified on both sides', async () => {
    const plain = await fixture();
    await plain.engine.createUser({ email: 'carol@example.com', emailVerified: true });
    const token = () =>
      idp.sign(
        { sub: 'carol', email: 'carol@example.com', email_verified: true },
        { nowMs: plain.clock.now() },
      );
    const before = await snapshot(plain);
    await refused(
      plain.engine.exchangeIdToken({ subjectToken: await token(), subjectTokenType: ID_TOKEN_TYPE }),
      'email_taken',
      'no merge configured',
    );
    assert.deepEqual(await snapshot(plain), before);

    const merging = await fixture({}, true);
    await merging.engine.createUser({ email: 'carol@example.com' });
    const kept = await snapshot(merging);
    await refused(
      merging.engine.exchangeIdToken({ subjectToken: await token(), subjectTokenType: ID_TOKEN_TYPE }),
      'email_taken',
      'account email unverified',
    );
    assert.deepEqual(await snapshot(merging), kept);

    const verified = await fixture({}, true);
    const account = await verified.engine.createUser({ email: 'carol@example.com', emailVerified: true });
    const merged = await verified.engine.exchangeIdToken({
      subjectToken: await token(),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    assert.equal(merged.userId, account.id);
    assert.equal(merged.newUser, false);
    assert.deepEqual(
      await verified.engine.findUserByIdentity({ issuer: idp.issuer, subject: 'carol' }),
      await verified.engine.getUser(account.id),
    );
    // An unverified email in the token never merges, even when configured.
    const unverifiedToken = await idp.sign(
      { sub: 'carol-2', email: 'carol@example.com', email_verified: false },
      { nowMs: verified.clock.now() },
    );
    const separate = await verified.engine.exchangeIdToken({
      subjectToken: unverifiedToken,
      subjectTokenType: ID_TOKEN_TYPE,
    });
    assert.notEqual(separate.userId, account.id);
    assert.equal((await verified.engine.getUser(separate.userId)).email, null);
  });

  it('refuses a disabled account', async () => {
    const f = await fixture();
    const first = await f.engine.exchangeIdToken({
      subjectToken: await idp.sign({ sub: 'dave' }, { nowMs: f.clock.now() }),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    await f.engine.updateUser(first.userId, { disabled: true });
    await refused(
      f.engine.exchangeIdToken({
        subjectToken: await idp.sign({ sub: 'dave' }, { nowMs: f.clock.now() }),
        subjectTokenType: ID_TOKEN_TYPE,
      }),
      'account_disabled',
      'disabled',
    );
  });

  it('issues an access token (and says so) under a single-token policy', async () => {
    const f = await fixture({ policy: 'sliding-single-token' });
    const tokens = await f.engine.exchangeIdToken({
      subjectToken: await idp.sign({ sub: 'erin' }, { nowMs: f.clock.now() }),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    assert.equal(tokens.issuedTokenType, ACCESS_TOKEN_TYPE);
    assert.equal(tokens.refreshToken, null);
  });

  it('follows a key rotation at once (unknown kid), uses a given jwksUri, and answers 503 while the provider is down', async () => {
    const f = await createEngineFixture({
      trustedIssuers: [
        { issuer: idp.issuer, audience: AUDIENCE, jwksUri: idp.jwksUri, algorithms: ['RS256', 'ES256'] },
      ],
      trustedIssuerFetch: { cooldownSeconds: 0 },
    });
    const original = idp.key;
    const discoveries = idp.fetches.discovery;
    const sign = (key = idp.key) => idp.sign({ sub: 'frank' }, { nowMs: f.clock.now(), key });
    const exchange = async (token: string) =>
      f.engine.exchangeIdToken({ subjectToken: token, subjectTokenType: ID_TOKEN_TYPE });
    await exchange(await sign());
    const rotated = await idp.newKey('ES256');
    idp.publish([rotated, original]);
    try {
      await exchange(await sign(rotated));
      // An EdDSA key the issuer publishes, but not among the configured algorithms.
      const eddsa = await idp.newKey('EdDSA');
      idp.publish([eddsa, rotated, original]);
      await refused(exchange(await sign(eddsa)), 'invalid_grant', 'algorithm not configured');
      assert.equal(idp.fetches.discovery, discoveries, 'a given jwksUri needs no discovery');
      idp.fail(true);
      const unknown = await idp.newKey();
      const down = await f.engine
        .exchangeIdToken({ subjectToken: await sign(unknown), subjectTokenType: ID_TOKEN_TYPE })
        .catch((e: unknown) => e);
      assert.ok(isTesseraError(down));
      assert.equal(down.code, 'service_unavailable');
      assert.equal(down.retryAfterSeconds, 5);
      // Keys already fetched still verify while the provider is down.
      await exchange(await sign(rotated));
    } finally {
      idp.fail(false);
      idp.publish([original]);
    }
  });

  it('refetches the JWKS on schedule (cacheSeconds) and discovers it from the issuer', async () => {
    const f = await fixture({ trustedIssuerFetch: { cacheSeconds: 0, cooldownSeconds: 3600 } });
    const original = idp.key;
    const jwksBefore = idp.fetches.jwks;
    const discoveries = idp.fetches.discovery;
    const token = async () => idp.sign({ sub: 'gina' }, { nowMs: f.clock.now() });
    await f.engine.exchangeIdToken({ subjectToken: await token(), subjectTokenType: ID_TOKEN_TYPE });
    assert.equal(idp.fetches.discovery, discoveries + 1);
    // The provider drops the key: a stale cache would still accept it; a refetch on schedule does not.
    const replacement = await idp.newKey();
    idp.publish([replacement]);
    try {
      await refused(
        f.engine.exchangeIdToken({
          subjectToken: await idp.sign({ sub: 'gina' }, { nowMs: f.clock.now(), key: original }),
          subjectTokenType: ID_TOKEN_TYPE,
        }),
        'invalid_grant',
        'dropped key',
      );
      assert.ok(idp.fetches.jwks >= jwksBefore + 2);
      assert.equal(idp.fetches.discovery, discoveries + 1, 'discovery is cached');
    } finally {
      idp.publish([original]);
    }
  });

  it('counts exchanges per identity', async () => {
    const f = await fixture({
      rateLimits: { externalLoginPerIdentity: [{ limit: 2, windowSeconds: 60 }] },
    });
    const exchange = async (sub: string) =>
      f.engine.exchangeIdToken({
        subjectToken: await idp.sign({ sub }, { nowMs: f.clock.now() }),
        subjectTokenType: ID_TOKEN_TYPE,
        ip: '198.51.100.7',
      });
    await exchange('hank');
    await exchange('hank');
    await refused(exchange('hank'), 'rate_limited', 'third exchange');
    await exchange('ivy');
  });
});

const STORES: Array<[string, () => { store: Store; done(): void }]> = [
  ['memory', () => ({ store: createMemoryStore(), done() {} })],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-exchange-'));
      return {
        store: createSqliteStore({ path: join(dir, 'test.db') }),
        done: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
];

for (const [name, open] of STORES) {
  it(`maps 20 parallel first sign-ins of one identity to ONE user (${name} store)`, async () => {
    const { store, done } = open();
    try {
      const f = await fixture({ store });
      const tokens = await Promise.all(
        Array.from({ length: 20 }, async (_, i) =>
          f.engine.exchangeIdToken({
            subjectToken: await idp.sign(
              { sub: 'parallel', email: 'parallel@example.com', email_verified: true, jti: String(i) },
              { nowMs: f.clock.now() },
            ),
            subjectTokenType: ID_TOKEN_TYPE,
          }),
        ),
      );
      assert.equal(new Set(tokens.map((t) => t.userId)).size, 1);
      assert.equal(tokens.filter((t) => t.newUser).length, 1);
      assert.equal(new Set(tokens.map((t) => t.sessionId)).size, 20);
      const { users } = await f.engine.listUsers({ limit: 200 });
      assert.equal(users.length, 1);
      assert.equal((await f.engine.listSessions(users[0]?.id ?? '', null)).length, 20);
    } finally {
      await store.close();
      done();
    }
  });
}
