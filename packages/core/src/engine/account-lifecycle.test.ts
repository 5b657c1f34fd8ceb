import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import { TOKEN_REQUEST_FLOOR_MS } from './one-time-tokens.ts';
import type { EngineOptions } from './options.ts';
import type { WebhookMessage } from './webhook-events.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isTesseraError(error) && error.code === code);
}

/** An engine whose `deliver` collects messages; `next(type)` delivers what is due and takes the last of `type`. */
async function lifecycleFixture(options: Partial<EngineOptions> = {}) {
  const messages: WebhookMessage[] = [];
  const fixture = await createEngineFixture({
    deliver: async (message) => {
      messages.push(message);
    },
    ...options,
  });
  const next = async (type: string): Promise<WebhookMessage> => {
    await fixture.engine.deliverWebhooks();
    const found = messages.filter((m) => m.type === type).at(-1);
    if (!found) throw new Error(`no ${type} event`);
    return found;
  };
  const delivered = async (): Promise<string[]> => {
    await fixture.engine.deliverWebhooks();
    return messages.map((m) => m.type);
  };
  return { ...fixture, messages, next, delivered };
}

describe('password reset', () => {
  it('sends a token for a known account only, answers alike otherwise, and resets once', async () => {
    const { engine, store, messages, next, clock } = await lifecycleFixture();
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const second = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    await engine.deliverWebhooks();
    const before = messages.length;
    assert.equal(await engine.requestPasswordReset({ email: 'nobody@example.com' }), undefined);
    await engine.deliverWebhooks();
    assert.equal(messages.length, before, 'nothing for an unknown email');
    assert.equal(await engine.requestPasswordReset({ email: ' ADA@example.com ' }), undefined);
    const requested = await next('password_reset.requested');
    const token = String(requested.data.token);
    assert.deepEqual(requested.data, {
      user_id: first.userId,
      email: 'ada@example.com',
      expires_at: new Date(clock.now() + 30 * 60_000).toISOString(),
      token,
    });

    await rejectsWith(engine.resetPassword({ token, newPassword: 'short' }), 'invalid_password');
    await rejectsWith(
      engine.resetPassword({ token: 'x'.repeat(43), newPassword: NEW_PASSWORD }),
      'invalid_one_time_token',
    );
    const userBefore = must(await store.findUserById(first.userId));
    await engine.resetPassword({ token, newPassword: NEW_PASSWORD });
    const userAfter = must(await store.findUserById(first.userId));
    assert.equal(userAfter.tokenVersion, userBefore.tokenVersion + 1);
    for (const tokens of [first, second]) {
      await rejectsWith(engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
      assert.equal((await store.findSession(tokens.sessionId))?.revokeReason, 'password_reset');
    }
    await rejectsWith(engine.login({ email: 'ada@example.com', password: PASSWORD }), 'invalid_credentials');
    await engine.login({ email: 'ada@example.com', password: NEW_PASSWORD });
    await rejectsWith(engine.resetPassword({ token, newPassword: PASSWORD }), 'invalid_one_time_token');

    await engine.deliverWebhooks();
    const changed = messages.find((m) => m.type === 'password.changed');
    assert.deepEqual(changed?.data, { user_id: first.userId, email: 'ada@example.com', via: 'reset' });
    assert.deepEqual(
      messages
        .filter((m) => m.type === 'session.revoked')
        .map((m) => m.data)
        .sort((a, b) => String(a.session_id).localeCompare(String(b.session_id))),
      [first, second]
        .map((t) => ({ user_id: first.userId, session_id: t.sessionId, reason: 'password_reset' }))
        .sort((a, b) => a.session_id.localeCompare(b.session_id)),
    );
  });

  it('lets exactly one of two parallel redemptions win', async () => {
    const { engine, next } = await lifecycleFixture();
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.requestPasswordReset({ email: 'ada@example.com' });
    const token = String((await next('password_reset.requested')).data.token);
    const outcomes = await Promise.allSettled([
      engine.resetPassword({ token, newPassword: NEW_PASSWORD }),
      engine.resetPassword({ token, newPassword: 'another long passphrase' }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const failed = outcomes.find((o) => o.status === 'rejected');
    assert.equal((failed?.reason as { code?: string } | undefined)?.code, 'invalid_one_time_token');
  });

  it('voids an older token with a newer one, and expires a token at its lifetime', async () => {
    const { engine, next, clock } = await lifecycleFixture({
      oneTimeTokenTtlSeconds: { password_reset: 600 },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.requestPasswordReset({ email: 'ada@example.com' });
    const older = String((await next('password_reset.requested')).data.token);
    await engine.requestPasswordReset({ email: 'ada@example.com' });
    const newer = String((await next('password_reset.requested')).data.token);
    assert.notEqual(older, newer);
    await rejectsWith(
      engine.resetPassword({ token: older, newPassword: NEW_PASSWORD }),
      'invalid_one_time_token',
    );
    clock.advance(600_000);
    await rejectsWith(
      engine.resetPassword({ token: newer, newPassword: NEW_PASSWORD }),
      'invalid_one_time_token',
    );
  });

  it('counts requests per account and per client, alike for unknown emails', async () => {
    const { engine } = await lifecycleFixture({
      rateLimits: {
        oneTimeTokenRequestsPerAccount: [{ limit: 2, windowSeconds: 600 }],
        oneTimeTokenRequestsPerIp: [{ limit: 5, windowSeconds: 60 }],
      },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    for (const email of ['ada@example.com', 'nobody@example.com']) {
      await engine.requestPasswordReset({ email, ip: '198.51.100.1' });
      await engine.requestPasswordReset({ email, ip: '198.51.100.2' });
      await rejectsWith(engine.requestPasswordReset({ email, ip: '198.51.100.3' }), 'rate_limited');
    }
    for (let i = 0; i < 5; i += 1)
      await engine.requestPasswordReset({ email: `u${i}@example.com`, ip: '203.0.113.9' });
    await rejectsWith(
      engine.requestPasswordReset({ email: 'u9@example.com', ip: '203.0.113.9' }),
      'rate_limited',
    );
    await rejectsWith(engine.requestPasswordReset({ email: 'not an email' }), 'invalid_email');
  });
});

describe('equal work for known and unknown emails', () => {
  it('commits exactly one durable write either way, and answers no sooner than the floor', async () => {
    const calls: string[] = [];
    const inner = createMemoryStore();
    // Every store call a token request makes, by name (a heartbeat write is the decoy's commit).
    const store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(
            name === 'ping' && (args[0] as { write?: boolean })?.write ? 'ping(write)' : String(name),
          );
          return value.apply(target, args);
        };
      },
    });
    const { engine } = await lifecycleFixture({ store });
    const ada = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.register({ email: 'off@example.com', password: PASSWORD });
    await engine.updateUser((await engine.findUserByEmail('off@example.com'))?.id ?? '', { disabled: true });
    await inner.updateUser(ada.userId, { totpSecret: 'enc:x', updatedAtMs: 1 });
    const cases: Array<[() => Promise<void>, string]> = [
      [() => engine.requestPasswordReset({ email: 'ada@example.com' }), 'createOneTimeToken'],
      [() => engine.requestPasswordReset({ email: 'nobody@example.com' }), 'ping(write)'],
      [() => engine.requestPasswordReset({ email: 'off@example.com' }), 'ping(write)'],
      [() => engine.requestMagicLink({ email: 'ada@example.com' }), 'ping(write)'],
      [() => engine.requestMagicLink({ email: 'nobody@example.com' }), 'ping(write)'],
    ];
    for (const [request, write] of cases) {
      calls.length = 0;
      const started = performance.now();
      await request();
      assert.ok(performance.now() - started >= TOKEN_REQUEST_FLOOR_MS - 1, 'waited out the floor');
      assert.deepEqual(calls, ['findUserByEmail', write]);
    }
  });
});

describe('email verification', () => {
  it('verifies the address a token was sent to, and access tokens say so', async () => {
    const { engine, next } = await lifecycleFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    assert.equal(decodeJwt(tokens.accessToken).email_verified, false);
    const auth = await engine.authenticate(tokens.accessToken);
    await engine.requestEmailVerification(auth);
    const requested = await next('email_verification.requested');
    assert.equal(requested.data.email, 'ada@example.com');
    assert.deepEqual(await engine.verifyEmail({ token: String(requested.data.token) }), {
      email: 'ada@example.com',
    });
    const refreshed = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    assert.equal(decodeJwt(refreshed.accessToken).email_verified, true);
    await rejectsWith(
      engine.requestEmailVerification(await engine.authenticate(refreshed.accessToken)),
      'email_already_verified',
    );
    await rejectsWith(engine.verifyEmail({ token: String(requested.data.token) }), 'invalid_one_time_token');
  });
});

describe('magic links', () => {
  it('signs in with amr email, marks new devices, and refuses unknown, disabled and two-factor accounts', async () => {
    const { engine, store, next, messages } = await lifecycleFixture();
    const ada = await engine.register({
      email: 'ada@example.com',
      password: PASSWORD,
      deviceId: 'laptop-device-id-0123456789',
    });
    await engine.requestMagicLink({ email: 'ada@example.com' });
    const link = await next('magic_link.requested');
    const token = String(link.data.token);
    const tokens = await engine.signInWithMagicLink({
      token,
      deviceId: 'phone-device-id-0123456789ab',
      deviceName: 'Phone',
    });
    assert.equal(tokens.userId, ada.userId);
    assert.deepEqual(decodeJwt(tokens.accessToken).amr, ['email']);
    const created = await next('session.created');
    assert.deepEqual(
      {
        session: created.data.session_id,
        amr: created.data.amr,
        newDevice: created.data.new_device,
        name: created.data.device_name,
      },
      { session: tokens.sessionId, amr: ['email'], newDevice: true, name: 'Phone' },
    );
    await rejectsWith(engine.signInWithMagicLink({ token }), 'invalid_one_time_token');
    await engine.login({
      email: 'ada@example.com',
      password: PASSWORD,
      deviceId: 'phone-device-id-0123456789ab',
    });
    assert.equal((await next('session.created')).data.new_device, false, 'the phone is known now');

    // A link requested before the account was disabled: refused, and left unspent.
    await engine.requestMagicLink({ email: 'ada@example.com' });
    const later = String((await next('magic_link.requested')).data.token);
    await engine.updateUser(ada.userId, { disabled: true });
    await rejectsWith(engine.signInWithMagicLink({ token: later }), 'account_disabled');
    await engine.updateUser(ada.userId, { disabled: false });
    await engine.signInWithMagicLink({ token: later });

    const count = messages.filter((m) => m.type === 'magic_link.requested').length;
    await engine.updateUser(ada.userId, { disabled: true });
    await engine.requestMagicLink({ email: 'ada@example.com' });
    await engine.updateUser(ada.userId, { disabled: false });
    await store.updateUser(ada.userId, { totpSecret: 'enc:two-factor', updatedAtMs: 1 });
    await engine.requestMagicLink({ email: 'ada@example.com' });
    await engine.requestMagicLink({ email: 'nobody@example.com' });
    await engine.deliverWebhooks();
    assert.equal(messages.filter((m) => m.type === 'magic_link.requested').length, count, 'no link sent');
    await rejectsWith(
      engine.signInWithMagicLink({
        token: `${token.slice(0, 43)}.${Buffer.from(ada.userId).toString('base64url')}x`,
      }),
      'invalid_one_time_token',
    );
  });
});

describe('email change', () => {
  it('needs the password and a free address, moves the account once confirmed, and notifies the old address', async () => {
    const { engine, store, next } = await lifecycleFixture();
    const ada = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.register({ email: 'taken@example.com', password: PASSWORD });
    const auth = await engine.authenticate(ada.accessToken);
    await rejectsWith(
      engine.requestEmailChange(auth, { newEmail: 'new@example.com', currentPassword: 'wrong password!' }),
      'invalid_credentials',
    );
    await rejectsWith(
      engine.requestEmailChange(auth, { newEmail: 'taken@example.com', currentPassword: PASSWORD }),
      'email_taken',
    );
    await rejectsWith(
      engine.requestEmailChange(auth, { newEmail: 'ADA@example.com', currentPassword: PASSWORD }),
      'invalid_request',
    );
    await engine.requestPasswordReset({ email: 'ada@example.com' });
    const reset = String((await next('password_reset.requested')).data.token);
    await engine.requestEmailChange(auth, { newEmail: 'New@Example.com', currentPassword: PASSWORD });
    const requested = await next('email_change.requested');
    assert.equal(requested.data.email, 'new@example.com');
    assert.equal(requested.data.previous_email, 'ada@example.com');
    assert.equal((await store.findUserById(ada.userId))?.email, 'ada@example.com', 'nothing changes yet');
    const token = String(requested.data.token);
    // The address a token carries is bound by its hash.
    const forged = `${token.split('.')[0]}.${Buffer.from('evil@example.com').toString('base64url')}`;
    await rejectsWith(engine.confirmEmailChange({ token: forged }), 'invalid_one_time_token');
    assert.deepEqual(await engine.confirmEmailChange({ token }), { email: 'new@example.com' });
    const user = must(await store.findUserById(ada.userId));
    assert.deepEqual([user.email, user.emailVerified], ['new@example.com', true]);
    const changed = await next('email.changed');
    assert.deepEqual(changed.data, {
      user_id: ada.userId,
      email: 'new@example.com',
      previous_email: 'ada@example.com',
    });
    // A reset link that went to the old address no longer works.
    await rejectsWith(
      engine.resetPassword({ token: reset, newPassword: NEW_PASSWORD }),
      'invalid_one_time_token',
    );
    await rejectsWith(engine.confirmEmailChange({ token }), 'invalid_one_time_token');
  });

  it('leaves the token unspent when another account took the address meanwhile', async () => {
    const { engine, store, next } = await lifecycleFixture();
    const ada = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.requestEmailChange(await engine.authenticate(ada.accessToken), {
      newEmail: 'new@example.com',
      currentPassword: PASSWORD,
    });
    const token = String((await next('email_change.requested')).data.token);
    const squatter = await engine.register({ email: 'new@example.com', password: PASSWORD });
    await rejectsWith(engine.confirmEmailChange({ token }), 'email_taken');
    await store.updateUser(squatter.userId, { email: 'elsewhere@example.com', updatedAtMs: 2 });
    assert.deepEqual(await engine.confirmEmailChange({ token }), { email: 'new@example.com' });
  });
});

describe('session events', () => {
  it('emits session.revoked for each ended session and session.reuse_detected with the presenter', async () => {
    const { engine, clock, next, messages } = await lifecycleFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(60_000);
    await rejectsWith(
      engine.refresh({ refreshToken: must(tokens.refreshToken), ip: '192.0.2.66', userAgent: 'curl/8.0' }),
      'invalid_grant',
    );
    const reuse = await next('session.reuse_detected');
    assert.deepEqual(reuse.data, {
      user_id: tokens.userId,
      session_id: tokens.sessionId,
      device_name: null,
      ip: '192.0.2.66',
      user_agent: 'curl/8.0',
    });
    assert.equal((await next('session.revoked')).data.reason, 'reuse_detected');
    const other = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    await engine.logoutAll(other.userId);
    assert.equal((await next('session.revoked')).data.reason, 'logout_all');
    const types = new Set(messages.map((m) => m.type));
    assert.deepEqual(
      [...types].sort(),
      ['session.created', 'session.reuse_detected', 'session.revoked', 'user.created'],
      'a refresh writes no event',
    );
  });
});

describe('email change needs a recent authentication (RFC 9470), not necessarily a password', () => {
  it('refuses a token whose sign-in is older than reauthMaxAgeSeconds, and lets a passwordless user change', async () => {
    const { engine, clock, next } = await lifecycleFixture({ reauthMaxAgeSeconds: 300 });
    const ada = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(301_000);
    const stale = await engine.authenticate(
      (await engine.refresh({ refreshToken: must(ada.refreshToken) })).accessToken,
    );
    await rejectsWith(
      engine.requestEmailChange(stale, { newEmail: 'new@example.com', currentPassword: PASSWORD }),
      'insufficient_user_authentication',
    );
    await rejectsWith(
      engine.requestEmailChange(stale, { newEmail: 'new@example.com' }),
      'insufficient_user_authentication',
    );

    const lin = await engine.createUser({ email: 'lin@example.com', emailVerified: true });
    const session = await engine.startSession({ userId: lin.id, amr: ['hwk', 'user'] });
    await engine.requestEmailChange(await engine.authenticate(session.accessToken), {
      newEmail: 'lin.new@example.com',
    });
    const requested = await next('email_change.requested');
    assert.equal(requested.data.email, 'lin.new@example.com');
  });
});
