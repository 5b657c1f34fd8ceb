import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InsufficientUserAuthenticationError, isTesseraError } from '../errors.ts';
import { createEngineFixture, enableTwoFactor, must } from '../testing/engine-fixture.ts';
import { totpCode } from '../totp.ts';
import type { Engine } from './engine.ts';
import type { TokenSet } from './issue-tokens.ts';
import { POLICY_NAMES, type PolicyName } from './policies/registry.ts';

const PASSWORD = 'correct horse battery staple';
const EMAIL = 'ada@example.com';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (error: unknown) => (isTesseraError(error) ? error.code : `thrown: ${String(error)}`),
  );
}

async function claimsOf(engine: Engine, token: string) {
  return (await engine.authenticate(token)).claims;
}

describe('assertRecentAuthentication (RFC 9470)', () => {
  it('passes while auth_time is at most the max age old, then throws the challenge data', async () => {
    const { engine, clock } = await createEngineFixture({ reauthMaxAgeSeconds: 120 });
    assert.equal(engine.settings.reauthMaxAgeSeconds, 120);
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    clock.advance(120_000);
    const auth = await engine.authenticate(tokens.accessToken);
    engine.assertRecentAuthentication(auth);
    clock.advance(1000);
    const error = (() => {
      try {
        engine.assertRecentAuthentication(auth);
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(error instanceof InsufficientUserAuthenticationError);
    assert.equal(error.code, 'insufficient_user_authentication');
    assert.equal(error.status, 401);
    assert.equal(error.maxAgeSeconds, 120);
    assert.equal(error.acrValues, undefined);
    engine.assertRecentAuthentication(auth, { maxAgeSeconds: 121 });
  });

  it('checks acr when asked, and refuses a bad requirement or an authentication it did not make', async () => {
    const { engine, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    engine.assertRecentAuthentication(auth, { acrValues: ['1', '2'] });
    assert.throws(() => engine.assertRecentAuthentication(auth, { acrValues: ['2'] }), {
      code: 'insufficient_user_authentication',
      acrValues: ['2'],
      maxAgeSeconds: 600,
    });
    for (const requirement of [
      { maxAgeSeconds: -1 },
      { maxAgeSeconds: 1.5 },
      { acrValues: 'x' },
      { acrValues: ['a b'] },
    ]) {
      assert.throws(() => engine.assertRecentAuthentication(auth, requirement as never), {
        code: 'invalid_request',
      });
    }
    assert.throws(() => engine.assertRecentAuthentication({ ...auth }), { code: 'invalid_token' });
    // `maxAgeSeconds: null`: the class alone, however old the authentication.
    clock.advance(86_400_000);
    engine.assertRecentAuthentication(auth, { maxAgeSeconds: null, acrValues: ['1'] });
    assert.throws(() => engine.assertRecentAuthentication(auth, { maxAgeSeconds: null, acrValues: ['2'] }), {
      code: 'insufficient_user_authentication',
      maxAgeSeconds: undefined,
      acrValues: ['2'],
    });
    assert.throws(() => engine.assertRecentAuthentication(auth), {
      code: 'insufficient_user_authentication',
    });
  });

  it('defaults to 10 minutes and refuses a max age outside 1 s to 400 days', async () => {
    const { engine } = await createEngineFixture();
    assert.equal(engine.settings.reauthMaxAgeSeconds, 600);
    for (const reauthMaxAgeSeconds of [0, -5, 1.5, 400 * 86_400 + 1, '600']) {
      await assert.rejects(createEngineFixture({ reauthMaxAgeSeconds: reauthMaxAgeSeconds as never }), {
        code: 'invalid_configuration',
        field: 'reauthMaxAgeSeconds',
      });
    }
  });
});

describe('reauthenticate', () => {
  it('with the password renews auth_time and amr in the same session, without extending the token', async () => {
    const { engine, clock, store, events } = await createEngineFixture({ reauthMaxAgeSeconds: 60 });
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const signedInAt = Math.floor(clock.now() / 1000);
    clock.advance(200_000);
    const auth = await engine.authenticate(tokens.accessToken);
    assert.throws(() => engine.assertRecentAuthentication(auth), {
      code: 'insufficient_user_authentication',
    });
    const renewed = await engine.reauthenticate(auth, { password: PASSWORD }, { ip: '203.0.113.9' });
    assert.equal(renewed.refreshToken, null, 'nothing rotated: the refresh token stands');
    assert.equal(renewed.sessionHandle, null);
    assert.equal(renewed.sessionId, tokens.sessionId);
    const before = auth.claims;
    const after = await claimsOf(engine, renewed.accessToken);
    assert.equal(after.auth_time, Math.floor(clock.now() / 1000));
    assert.ok(after.auth_time > signedInAt);
    assert.deepEqual(after.amr, ['pwd']);
    assert.equal(after.acr, '1');
    assert.equal(after.sid, before.sid);
    assert.ok(after.exp <= before.exp, 'never outlives the presented token');
    assert.equal(renewed.expiresIn, after.exp - after.iat);
    engine.assertRecentAuthentication(await engine.authenticate(renewed.accessToken));
    const session = must(await store.findSession(tokens.sessionId));
    assert.equal(session.authTimeMs, clock.now());
    assert.equal(session.generation, 1);
    assert.deepEqual(
      events.filter((e) => e.type === 'session.reauthenticated').map((e) => ({ ...e })),
      [
        {
          type: 'session.reauthenticated',
          sessionId: tokens.sessionId,
          userId: tokens.userId,
          amr: ['pwd'],
          atMs: clock.now(),
        },
      ],
    );
    // The refresh token still works, and what it mints carries the new authentication.
    const refreshed = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    assert.equal((await claimsOf(engine, refreshed.accessToken)).auth_time, after.auth_time);
  });

  it('refuses a wrong password or bad input without changing the session', async () => {
    const { engine, store, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    clock.advance(60_000);
    const auth = await engine.authenticate(tokens.accessToken);
    const before = await store.findSession(tokens.sessionId);
    for (const [input, code] of [
      [{ password: 'not the password' }, 'invalid_credentials'],
      [{}, 'invalid_request'],
      [{ password: 5 }, 'invalid_request'],
      [{ password: 'p'.repeat(1025) }, 'invalid_password'],
      [{ totp: '123456' }, 'mfa_not_enabled'],
      [{ recoveryCode: 'abcd-efgh-jkmn-pqrs' }, 'mfa_not_enabled'],
      [{ totp: '123456', recoveryCode: 'x' }, 'invalid_request'],
      [null, 'invalid_request'],
    ] as const) {
      assert.equal(await codeOf(engine.reauthenticate(auth, input as never)), code, JSON.stringify(input));
    }
    assert.deepEqual(await store.findSession(tokens.sessionId), before);
  });

  it('with two-factor login on, requires a code: TOTP alone, recovery code alone, or with the password (mfa)', async () => {
    const fixture = await createEngineFixture();
    const { engine, clock } = fixture;
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const { secret, recoveryCodes } = await enableTwoFactor(fixture, tokens.accessToken);
    const auth = await engine.authenticate(tokens.accessToken);
    assert.equal(await codeOf(engine.reauthenticate(auth, { password: PASSWORD })), 'totp_required');

    const byTotp = await engine.reauthenticate(auth, { totp: totpCode(secret, clock.now()) });
    assert.deepEqual((await claimsOf(engine, byTotp.accessToken)).amr, ['otp']);
    assert.equal((await claimsOf(engine, byTotp.accessToken)).acr, '1');
    assert.equal(
      await codeOf(engine.reauthenticate(auth, { totp: totpCode(secret, clock.now()) })),
      'invalid_totp',
      'accepted once',
    );

    clock.advance(30_000);
    const both = await engine.reauthenticate(auth, {
      password: PASSWORD,
      totp: totpCode(secret, clock.now()),
    });
    const claims = await claimsOf(engine, both.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.acr, '2');
    engine.assertRecentAuthentication(await engine.authenticate(both.accessToken), { acrValues: ['2'] });

    const code = recoveryCodes[0] ?? '';
    const byRecovery = await engine.reauthenticate(auth, { recoveryCode: code });
    assert.deepEqual((await claimsOf(engine, byRecovery.accessToken)).amr, ['otp']);
    assert.equal(await codeOf(engine.reauthenticate(auth, { recoveryCode: code })), 'invalid_recovery_code');
    // A wrong password with a right code: the code is not used up.
    clock.advance(30_000);
    const next = totpCode(secret, clock.now());
    assert.equal(
      await codeOf(engine.reauthenticate(auth, { password: 'wrong password!', totp: next })),
      'invalid_credentials',
    );
    assert.equal(await codeOf(engine.reauthenticate(auth, { totp: next })), 'ok');
  });

  it('counts attempts before checking: 60 parallel wrong passwords, at most the limit checked', async () => {
    const { engine } = await createEngineFixture({
      rateLimits: {
        loginPerIp: [{ limit: 10_000, windowSeconds: 60 }],
        loginFailuresPerAccount: [{ limit: 5, windowSeconds: 60 }],
      },
    });
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const codes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        codeOf(engine.reauthenticate(auth, { password: `wrong password ${i}` })),
      ),
    );
    assert.equal(codes.filter((c) => c === 'invalid_credentials').length, 5);
    assert.equal(codes.filter((c) => c === 'rate_limited').length, 55);
  });

  it('refuses the token of an ended session', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    await engine.logoutSession(tokens.sessionId);
    assert.equal(await codeOf(engine.reauthenticate(auth, { password: PASSWORD })), 'invalid_token');
  });
});

/** The policy's own renewal of `tokens` (past whatever point it needs), or `null` when it has none. */
async function renewUnder(
  policy: PolicyName,
  engine: Engine,
  clock: { advance(ms: number): void },
  tokens: TokenSet,
  accessToken: string,
): Promise<string | null> {
  switch (policy) {
    case 'rotating-refresh':
      return (await engine.refresh({ refreshToken: must(tokens.refreshToken) })).accessToken;
    case 'soft-expiry':
      clock.advance(must(tokens.softExpiresIn) * 1000);
      return (await engine.renew(accessToken)).accessToken;
    case 'expired-token-exchange':
      clock.advance(tokens.expiresIn * 1000);
      return (await engine.exchangeExpired(accessToken, must(tokens.sessionHandle))).accessToken;
    case 'sliding-single-token':
      clock.advance((tokens.expiresIn / 2 + 1) * 1000);
      return must(await engine.slide(await engine.authenticate(accessToken))).accessToken;
    case 'long-lived-token':
      return null;
  }
}

describe('amr, acr and auth_time under every policy', () => {
  for (const policy of POLICY_NAMES) {
    it(`${policy}: carried by sign-in, re-authentication and renewal tokens`, async () => {
      const fixture = await createEngineFixture({ policy });
      const { engine, clock } = fixture;
      const registered = await engine.register({ email: EMAIL, password: PASSWORD });
      const first = await claimsOf(engine, registered.accessToken);
      assert.deepEqual(
        [first.amr, first.acr, first.auth_time],
        [['pwd'], '1', Math.floor(clock.now() / 1000)],
      );
      const { secret } = await enableTwoFactor(fixture, registered.accessToken);
      const tokens = await engine.login({
        email: EMAIL,
        password: PASSWORD,
        totp: totpCode(secret, clock.now()),
      });
      const signedIn = await claimsOf(engine, tokens.accessToken);
      assert.deepEqual([signedIn.amr, signedIn.acr], [['pwd', 'otp', 'mfa'], '2']);
      assert.equal(signedIn.auth_time, Math.floor(clock.now() / 1000));

      clock.advance(5000);
      const reauth = await engine.reauthenticate(await engine.authenticate(tokens.accessToken), {
        totp: totpCode(secret, clock.now() + 30_000),
      });
      const stepped = await claimsOf(engine, reauth.accessToken);
      assert.deepEqual(
        [stepped.amr, stepped.acr, stepped.auth_time],
        [['otp'], '1', Math.floor(clock.now() / 1000)],
      );
      assert.equal(stepped.exp, signedIn.exp, 'the same expiry as the token it replaces');
      for (const claim of ['gen', 'softexp'] as const) assert.equal(stepped[claim], signedIn[claim], claim);
      assert.equal(reauth.softExpiresIn, tokens.softExpiresIn === null ? null : tokens.softExpiresIn - 5);

      const renewed = await renewUnder(policy, engine, clock, tokens, reauth.accessToken);
      if (renewed !== null) {
        const claims = await claimsOf(engine, renewed);
        assert.deepEqual([claims.amr, claims.acr, claims.auth_time], [['otp'], '1', stepped.auth_time]);
      }
    });
  }
});
