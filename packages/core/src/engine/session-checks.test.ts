import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';

const PASSWORD = 'correct horse battery staple';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isTesseraError(error) && error.code === code);
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

// Issue 10, finding 6: a bearer token is only as alive as its session.
describe('bearer authentication checks the session, not only its revocation', () => {
  it('refuses the token of an idle-expired session, and introspection calls it inactive', async () => {
    const { engine, clock } = await createEngineFixture({
      accessTtlSeconds: 600,
      refreshIdleTtlSeconds: 300,
      refreshAbsoluteTtlSeconds: 3600,
    });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(299_999);
    await engine.authenticate(tokens.accessToken);
    clock.advance(1);
    await rejectsWith(engine.authenticate(tokens.accessToken), 'invalid_token');
    assert.deepEqual(await engine.introspect(tokens.accessToken), { active: false });
  });

  it('refuses the token of a session past its absolute lifetime', async () => {
    const { engine, clock } = await createEngineFixture({
      accessTtlSeconds: 600,
      refreshIdleTtlSeconds: 100,
      refreshAbsoluteTtlSeconds: 200,
    });
    let tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(90_000);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(90_000);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(19_999);
    await engine.authenticate(tokens.accessToken);
    clock.advance(1);
    await rejectsWith(engine.authenticate(tokens.accessToken), 'invalid_token');
    assert.deepEqual(await engine.introspect(tokens.accessToken), { active: false });
  });

  it('refuses a long-lived token past the maximum login age', async () => {
    const { engine, clock } = await createEngineFixture({
      policy: 'long-lived-token',
      maxLoginAgeSeconds: 86_400,
    });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(86_399_999);
    await engine.authenticate(tokens.accessToken);
    clock.advance(1);
    await rejectsWith(engine.authenticate(tokens.accessToken), 'invalid_token');
    assert.deepEqual(await engine.introspect(tokens.accessToken), { active: false });
  });
});

describe('a token never outlives its session', () => {
  it('mints tokens that expire at the session’s absolute expiry or maximum login age at the latest', async () => {
    const { engine, clock } = await createEngineFixture({
      accessTtlSeconds: 600,
      refreshIdleTtlSeconds: 3600,
      refreshAbsoluteTtlSeconds: 4000,
      maxLoginAgeSeconds: 3800,
    });
    const start = clock.now() / 1000;
    let tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(3_000_000);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    assert.equal(claimsOf(tokens.accessToken).exp, start + 3600, 'capped by the login age');
    assert.equal(tokens.expiresIn, 600);
    clock.advance(300_000);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    assert.equal(claimsOf(tokens.accessToken).exp, start + 3800);
    assert.equal(tokens.expiresIn, 500);
  });

  it('forcing re-authentication refuses the user’s tokens at once, here and at verifiers', async () => {
    const { engine } = await createEngineFixture({ policy: 'long-lived-token' });
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const { access, profile } = await engine.updateUser(a.userId, {
      reauthRequired: true,
      actingSessionId: a.sessionId,
    });
    assert.equal(access, null);
    assert.equal(profile.tokenVersion, 2);
    await rejectsWith(engine.authenticate(a.accessToken), 'invalid_token');
    const again = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    await engine.authenticate(again.accessToken);
  });
});

describe('a profile change never extends a token’s life', () => {
  it('keeps the presented token’s exp, so PATCH /auth/me cannot renew a stolen token forever', async () => {
    const { engine, clock } = await createEngineFixture({ accessTtlSeconds: 600 });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const exp = claimsOf(tokens.accessToken).exp;
    let token = tokens.accessToken;
    for (let i = 0; i < 5; i += 1) {
      clock.advance(100_000);
      const { access } = await engine.updateProfile(await engine.authenticate(token), { name: `Ada ${i}` });
      token = must(access).accessToken;
      assert.equal(claimsOf(token).exp, exp);
      assert.equal(claimsOf(token).name, `Ada ${i}`);
      assert.equal(must(access).expiresIn, (exp as number) - Math.floor(clock.now() / 1000));
    }
    // At the original exp plus the leeway, the last of them is dead too.
    clock.advance(102_000);
    await rejectsWith(engine.authenticate(token), 'invalid_token');
  });

  it('keeps softexp under soft-expiry', async () => {
    const { engine, clock } = await createEngineFixture({
      policy: 'soft-expiry',
      accessTtlSeconds: 3600,
      softTtlSeconds: 600,
    });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const { exp, softexp } = claimsOf(tokens.accessToken);
    clock.advance(300_000);
    const { access } = await engine.updateProfile(await engine.authenticate(tokens.accessToken), {
      name: 'Ada',
    });
    const fresh = claimsOf(must(access).accessToken);
    assert.deepEqual([fresh.exp, fresh.softexp], [exp, softexp]);
    clock.advance(300_000);
    await rejectsWith(engine.authenticate(must(access).accessToken), 'invalid_token');
  });

  it('an app-side change for an acting session never outlives that session’s current token', async () => {
    const { engine, clock } = await createEngineFixture({ accessTtlSeconds: 600 });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const exp = claimsOf(tokens.accessToken).exp;
    clock.advance(400_000);
    const { access } = await engine.updateUser(tokens.userId, {
      roles: ['editor'],
      actingSessionId: tokens.sessionId,
    });
    assert.equal(claimsOf(must(access).accessToken).exp, exp);
    assert.deepEqual(claimsOf(must(access).accessToken).roles, ['editor']);
  });
});

// Issue 10, finding 11: RFC 7009 revocation applies the checks introspection applies.
describe('revokeToken ends nothing for a token refused everywhere else', () => {
  it('ignores an access token from before a password change', async () => {
    const { engine } = await createEngineFixture();
    const before = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const fresh = await engine.changePassword(
      await engine.authenticate(before.accessToken),
      PASSWORD,
      'a brand new passphrase',
    );
    assert.deepEqual(await engine.introspect(before.accessToken), { active: false });
    await engine.revokeToken(before.accessToken);
    await engine.authenticate(fresh.accessToken);
    await engine.refresh({ refreshToken: must(fresh.refreshToken) });
  });

  it('ignores an access token of an outdated version', async () => {
    const { engine } = await createEngineFixture();
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.updateUser(first.userId, { roles: ['admin'] });
    await engine.revokeToken(first.accessToken);
    await engine.refresh({ refreshToken: must(first.refreshToken) });
  });

  it('ignores a retired refresh token outside the grace window', async () => {
    const { engine, clock } = await createEngineFixture({ reuseGraceSeconds: 10 });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    clock.advance(10_000);
    await engine.revokeToken(must(first.refreshToken));
    await engine.authenticate(second.accessToken);
  });

  it('still ends the session of a token introspection calls active', async () => {
    const { engine } = await createEngineFixture();
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.revokeToken(a.accessToken);
    await rejectsWith(engine.refresh({ refreshToken: must(a.refreshToken) }), 'invalid_grant');
  });
});
