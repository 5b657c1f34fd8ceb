import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import type { Revocation } from '../revocation-bus.ts';
import { createInProcessBus } from '../revocation-bus.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import { totpCode } from '../totp.ts';

const PASSWORD = 'correct horse battery staple';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isTesseraError(error) && error.code === code);
}

describe('register and login', () => {
  it('normalizes the email, refuses a taken one and a weak password, and changes nothing then', async () => {
    const { engine, store } = await createEngineFixture();
    await engine.register({ email: '  Ada@Example.COM ', password: PASSWORD });
    await rejectsWith(engine.register({ email: 'ada@example.com', password: PASSWORD }), 'email_taken');
    await rejectsWith(engine.register({ email: 'bob@example.com', password: 'short' }), 'invalid_password');
    await rejectsWith(
      engine.register({ email: 'bob@example.com', password: 'password123' }),
      'common_password',
    );
    await rejectsWith(
      engine.register({ email: `${'a'.repeat(250)}@x.io`, password: PASSWORD }),
      'invalid_email',
    );
    await rejectsWith(engine.register({ email: 'not-an-email', password: PASSWORD }), 'invalid_email');
    assert.equal(await store.findUserByEmail('bob@example.com'), null);
  });

  it('answers a wrong password and an unknown email the same way', async () => {
    const { engine } = await createEngineFixture();
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const wrong = await engine
      .login({ email: 'ada@example.com', password: 'wrong password!' })
      .catch((e) => e);
    const unknown = await engine
      .login({ email: 'nobody@example.com', password: 'wrong password!' })
      .catch((e) => e);
    assert.equal(wrong.code, 'invalid_credentials');
    assert.equal(unknown.code, 'invalid_credentials');
    assert.equal(wrong.message, unknown.message);
  });

  it('backs off an account after repeated failures and an IP after many attempts', async () => {
    const { engine } = await createEngineFixture({
      rateLimits: {
        loginPerIp: [{ limit: 8, windowSeconds: 60 }],
        loginFailuresPerAccount: [{ limit: 3, windowSeconds: 60 }],
        refreshPerIp: [{ limit: 100, windowSeconds: 60 }],
        refreshPerSession: [{ limit: 100, windowSeconds: 60 }],
      },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD, ip: '10.0.0.9' });
    for (let i = 0; i < 3; i += 1) {
      await rejectsWith(
        engine.login({ email: 'ada@example.com', password: 'wrong password!', ip: '10.0.0.1' }),
        'invalid_credentials',
      );
    }
    // Even the right password is refused while the account backs off.
    const limited = await engine
      .login({ email: 'ada@example.com', password: PASSWORD, ip: '10.0.0.2' })
      .catch((e) => e);
    assert.equal(limited.code, 'rate_limited');
    assert.ok(limited.retryAfterSeconds >= 1 && limited.retryAfterSeconds <= 60);
    for (let i = 0; i < 5; i += 1) {
      await engine
        .login({ email: `x${i}@example.com`, password: PASSWORD, ip: '10.0.0.1' })
        .catch(() => undefined);
    }
    await rejectsWith(
      engine.login({ email: 'y@example.com', password: PASSWORD, ip: '10.0.0.1' }),
      'rate_limited',
    );
  });

  it('requires and checks a TOTP code once the user enrolled', async () => {
    const { engine, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const { secret, uri } = await engine.enrollTotp(auth);
    assert.match(uri, /^otpauth:\/\/totp\//);
    const right = totpCode(secret, clock.now());
    await rejectsWith(engine.confirmTotp(auth, right === '000000' ? '111111' : '000000'), 'invalid_totp');
    await engine.confirmTotp(auth, right);
    clock.advance(30_000);
    await rejectsWith(engine.login({ email: 'ada@example.com', password: PASSWORD }), 'totp_required');
    await rejectsWith(
      engine.login({ email: 'ada@example.com', password: PASSWORD, totp: '12345x' }),
      'invalid_totp',
    );
    const ok = await engine.login({
      email: 'ada@example.com',
      password: PASSWORD,
      totp: totpCode(secret, clock.now()),
    });
    assert.deepEqual((await engine.authenticate(ok.accessToken)).claims.amr, ['pwd', 'otp', 'mfa']);
  });
});

describe('devices', () => {
  it('lists live sessions with the current one marked and lets a user end only their own', async () => {
    const { engine, clock } = await createEngineFixture();
    const laptop = await engine.register({
      email: 'ada@example.com',
      password: PASSWORD,
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15',
      ip: '203.0.113.5',
    });
    clock.advance(1000);
    const phone = await engine.login({
      email: 'ada@example.com',
      password: PASSWORD,
      deviceName: 'Ada’s phone',
    });
    const mallory = await engine.register({ email: 'mallory@example.com', password: PASSWORD });
    const list = await engine.listSessions(laptop.userId, laptop.sessionId);
    assert.equal(list.length, 2);
    assert.deepEqual(
      list.map((s) => [s.deviceName, s.current]),
      [
        ['Safari on macOS', true],
        ['Ada’s phone', false],
      ],
    );
    assert.equal(list[0]?.ip, '203.0.113.5');
    assert.equal(await engine.revokeOwnSession(mallory.userId, phone.sessionId), false);
    assert.equal(await engine.revokeOwnSession(laptop.userId, phone.sessionId), true);
    await rejectsWith(engine.refresh({ refreshToken: must(phone.refreshToken) }), 'invalid_grant');
    await rejectsWith(engine.authenticate(phone.accessToken), 'invalid_token');
    assert.equal((await engine.listSessions(laptop.userId, null)).length, 1);
  });

  it('evicts the oldest session past the per-user cap', async () => {
    const { engine, clock } = await createEngineFixture({ maxSessionsPerUser: 2 });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(1000);
    const second = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(1000);
    const third = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    const ids = (await engine.listSessions(first.userId, null)).map((s) => s.id);
    assert.deepEqual(ids, [second.sessionId, third.sessionId]);
    await rejectsWith(engine.refresh({ refreshToken: must(first.refreshToken) }), 'invalid_grant');
  });

  it('logs out everywhere', async () => {
    const { engine } = await createEngineFixture();
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const b = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    assert.equal(await engine.logoutAll(a.userId), 2);
    await rejectsWith(engine.authenticate(a.accessToken), 'invalid_token');
    await rejectsWith(engine.refresh({ refreshToken: must(b.refreshToken) }), 'invalid_grant');
  });
});

describe('password and claims changes', () => {
  it('changes the password: other sessions end, the current one gets fresh tokens', async () => {
    const { engine } = await createEngineFixture();
    const here = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const there = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    const auth = await engine.authenticate(here.accessToken);
    await rejectsWith(
      engine.changePassword(auth, 'not my password', 'a brand new passphrase'),
      'invalid_credentials',
    );
    await rejectsWith(engine.changePassword(auth, PASSWORD, 'password123'), 'common_password');
    await engine
      .refresh({ refreshToken: must(there.refreshToken) })
      .then((t) => engine.authenticate(t.accessToken));
    const fresh = await engine.changePassword(auth, PASSWORD, 'a brand new passphrase');
    assert.equal(fresh.sessionId, here.sessionId);
    await engine.authenticate(fresh.accessToken);
    await rejectsWith(engine.authenticate(here.accessToken), 'invalid_token'); // older token version
    await rejectsWith(engine.authenticate(there.accessToken), 'invalid_token');
    await engine.refresh({ refreshToken: must(fresh.refreshToken) });
    await rejectsWith(engine.login({ email: 'ada@example.com', password: PASSWORD }), 'invalid_credentials');
    await engine.login({ email: 'ada@example.com', password: 'a brand new passphrase' });
  });

  it('updates the profile and returns a fresh access token carrying it', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const { profile, access } = await engine.updateProfile(auth, {
      name: 'Ada',
      phone_number: '+14155550123',
    });
    assert.equal(profile.profile.phone_number, '+14155550123');
    assert.ok(access);
    const claims = (await engine.authenticate(access.accessToken)).claims;
    assert.equal(claims.name, 'Ada');
    assert.equal(claims.phone_number, '+14155550123');
    await rejectsWith(engine.updateProfile(auth, { roles: 'admin' }), 'invalid_request');
    await rejectsWith(engine.updateProfile(auth, { phone_number: '555' }), 'invalid_request');
    await rejectsWith(engine.updateProfile(auth, { name: 42 }), 'invalid_request');
  });

  it('bumps the token version on a role change so other sessions must refresh to get it', async () => {
    const bus = createInProcessBus();
    const seen: Revocation[] = [];
    bus.subscribe((r) => seen.push(r));
    const { engine } = await createEngineFixture({ bus });
    const admin = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const other = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    const { profile, access } = await engine.updateUser(admin.userId, {
      roles: ['admin'],
      actingSessionId: admin.sessionId,
    });
    assert.equal(profile.tokenVersion, 2);
    assert.ok(access);
    assert.deepEqual((await engine.authenticate(access.accessToken)).claims.roles, ['admin']);
    await rejectsWith(engine.authenticate(other.accessToken), 'invalid_token');
    const refreshed = await engine.refresh({ refreshToken: must(other.refreshToken) });
    const claims = (await engine.authenticate(refreshed.accessToken)).claims;
    assert.deepEqual([claims.roles, claims.ver], [['admin'], 2]);
    assert.ok(seen.some((r) => r.kind === 'user' && r.sub === admin.userId && r.minVersion === 2));
  });

  it('disabling an account ends its sessions', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.updateUser(tokens.userId, { disabled: true });
    await rejectsWith(engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
    await rejectsWith(engine.authenticate(tokens.accessToken), 'invalid_token');
    await rejectsWith(engine.login({ email: 'ada@example.com', password: PASSWORD }), 'account_disabled');
  });

  it('forces re-authentication at the next refresh of every session', async () => {
    const { engine } = await createEngineFixture();
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const b = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    await engine.updateUser(a.userId, { reauthRequired: true });
    await rejectsWith(engine.refresh({ refreshToken: must(a.refreshToken) }), 'invalid_grant');
    const fresh = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    await engine.refresh({ refreshToken: must(fresh.refreshToken) });
    await rejectsWith(engine.refresh({ refreshToken: must(b.refreshToken) }), 'invalid_grant');
  });

  it('emergency revoke-all ends every session and publishes a global not-before', async () => {
    const bus = createInProcessBus();
    const seen: Revocation[] = [];
    bus.subscribe((r) => seen.push(r));
    const { engine, store, clock } = await createEngineFixture({ bus });
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const b = await engine.register({ email: 'bob@example.com', password: PASSWORD });
    const result = await engine.emergencyRevokeAll();
    assert.equal(result.sessions, 2);
    assert.equal(await store.getGlobalNotBeforeMs(), clock.now());
    for (const t of [a, b]) await rejectsWith(engine.authenticate(t.accessToken), 'invalid_token');
    assert.ok(seen.some((r) => r.kind === 'global' && r.notBeforeMs === clock.now()));
    await engine
      .login({ email: 'ada@example.com', password: PASSWORD })
      .then((t) => engine.authenticate(t.accessToken));
  });
});

describe('introspection and revocation (RFC 7662, RFC 7009)', () => {
  it('introspects live tokens and reports retired or garbage ones inactive without side effects', async () => {
    const { engine, store, clock } = await createEngineFixture();
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const access = await engine.introspect(first.accessToken);
    assert.equal(access.active, true);
    assert.equal((access as Record<string, unknown>).sid, first.sessionId);
    assert.equal((await engine.introspect(must(first.refreshToken))).active, true);
    await engine.refresh({ refreshToken: must(first.refreshToken) });
    clock.advance(60_000);
    assert.deepEqual(await engine.introspect(must(first.refreshToken)), { active: false });
    assert.equal((await store.findSession(first.sessionId))?.revokedAtMs, null);
    assert.deepEqual(await engine.introspect('garbage'), { active: false });
  });

  it('revokes the session of a presented access or refresh token and ignores unknown tokens', async () => {
    const { engine } = await createEngineFixture();
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const b = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    await engine.revokeToken('nonsense');
    await engine.revokeToken(a.accessToken);
    await rejectsWith(engine.refresh({ refreshToken: must(a.refreshToken) }), 'invalid_grant');
    await engine.revokeToken(must(b.refreshToken));
    await rejectsWith(engine.authenticate(b.accessToken), 'invalid_token');
  });
});
