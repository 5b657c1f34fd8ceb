import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { isTesseraError, StoreUnavailableError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { createEngineFixture, enableTwoFactor, must } from '../testing/engine-fixture.ts';

const PASSWORD = 'correct horse battery staple';

/** Every key name anywhere inside `value` (objects and arrays, depth first). */
function keysDeep(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysDeep(inner, seen)]);
}

const SECRET_KEYS = ['passwordHash', 'totpSecret', 'totpPendingSecret', 'salt', 'generation', 'dpopJkt'];

describe('methods return public shapes', () => {
  it('never hands out a password hash, a TOTP secret or a session salt', async () => {
    const fixture = await createEngineFixture();
    const { engine } = fixture;
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await enableTwoFactor(fixture, tokens.accessToken);
    const auth = await engine.authenticate(tokens.accessToken);
    const results: unknown[] = [
      tokens,
      auth,
      await engine.updateUser(tokens.userId, { roles: ['admin'], actingSessionId: tokens.sessionId }),
      await engine.updateProfile(auth, { name: 'Ada' }),
      await engine.getProfile(tokens.userId),
      await engine.findUserByEmail('ada@example.com'),
      await engine.listSessions(tokens.userId, tokens.sessionId),
      await engine.introspect(tokens.accessToken),
      await engine.getTwoFactorStatus(tokens.userId),
      await engine.regenerateRecoveryCodes(auth),
      await engine.reauthenticate(auth, {
        recoveryCode: (await engine.regenerateRecoveryCodes(auth)).recoveryCodes[0],
      }),
    ];
    for (const result of results) {
      const keys = keysDeep(result);
      for (const key of SECRET_KEYS) assert.ok(!keys.includes(key), `${key} in ${JSON.stringify(keys)}`);
    }
    const updated = await engine.updateUser(tokens.userId, { disabled: false });
    assert.equal(updated.profile.id, tokens.userId);
    assert.deepEqual(updated.profile.roles, ['admin']);
    assert.equal(updated.profile.twoFactor, true);
    assert.equal(auth.user.id, tokens.userId);
    assert.equal(auth.session.id, tokens.sessionId);
  });
});

describe('Authenticated objects', () => {
  it('are recognized only when this engine made them', async () => {
    const { engine } = await createEngineFixture();
    const other = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    assert.ok(Object.isFrozen(auth));
    for (const forged of [{ ...auth }, structuredClone(auth)]) {
      await assert.rejects(engine.updateProfile(forged, { name: 'Eve' }), { code: 'invalid_token' });
      await assert.rejects(engine.changePassword(forged, PASSWORD, 'a brand new passphrase'), {
        code: 'invalid_token',
      });
    }
    await assert.rejects(other.engine.updateProfile(auth, { name: 'Eve' }), { code: 'invalid_token' });
    assert.equal((await engine.getProfile(tokens.userId)).profile.name, null);
  });
});

describe('engine.settings describe what the policy issues', () => {
  it('matches the tokens each policy hands out', async () => {
    const expected = {
      'rotating-refresh': [true, false, 'refresh'],
      'sliding-single-token': [false, false, 'sliding'],
      'soft-expiry': [false, false, 'soft'],
      'expired-token-exchange': [false, true, 'exchange'],
      'long-lived-token': [false, false, 'none'],
    } as const;
    for (const [policy, [refresh, handle, renewal]] of Object.entries(expected)) {
      const { engine } = await createEngineFixture({ policy: policy as keyof typeof expected });
      const { settings } = engine;
      assert.deepEqual(
        [settings.issuesRefreshToken, settings.issuesSessionHandle, settings.renewal],
        [refresh, handle, renewal],
      );
      const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
      assert.equal(tokens.refreshToken !== null, refresh, policy);
      assert.equal(tokens.sessionHandle !== null, handle, policy);
      assert.equal(tokens.softExpiresIn, settings.softTtlSeconds, policy);
      assert.ok(Object.isFrozen(settings));
    }
  });
});

// Issue 10, finding 2: the user and its first session are one write.
describe('register is atomic', () => {
  it('leaves no user behind when the session cannot be started, so a retry succeeds', async () => {
    const memory = createMemoryStore();
    let failNext = true;
    const failOnce = () => {
      if (!failNext) return;
      failNext = false;
      throw new StoreUnavailableError(new Error('connection reset'));
    };
    const store: Store = {
      ...memory,
      capabilities: memory.capabilities,
      async createSession(session, options) {
        failOnce();
        return memory.createSession(session, options);
      },
      async createUser(user, options) {
        if (options?.session) failOnce();
        return memory.createUser(user, options);
      },
    };
    const { engine } = await createEngineFixture({ store });
    await assert.rejects(
      engine.register({ email: 'ada@example.com', password: PASSWORD }),
      (error: unknown) => isTesseraError(error) && error.code === 'service_unavailable',
    );
    assert.equal(await memory.findUserByEmail('ada@example.com'), null);
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.authenticate(tokens.accessToken);
  });
});

// Issue 11: key retention follows the policy's real access-token lifetime.
describe('signing-key retention', () => {
  it('keeps verifying a long-lived token across a key rotation for its whole life', async () => {
    const { engine, clock } = await createEngineFixture({ policy: 'long-lived-token' });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.rotateSigningKey();
    const verifyAtResourceServer = async () =>
      jwtVerify(tokens.accessToken, createLocalJWKSet(await engine.jwks()), {
        currentDate: new Date(clock.now()),
        clockTolerance: 2,
      });
    clock.advance(7 * 86_400_000 - 1_000);
    await engine.sweep();
    await engine.authenticate(tokens.accessToken);
    await verifyAtResourceServer();
    assert.equal(tokens.expiresIn, 7 * 86_400);
    assert.ok(must(tokens.refreshExpiresAt));
  });
});
