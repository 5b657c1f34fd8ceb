import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, enableTwoFactor } from '../testing/engine-fixture.ts';
import type { Engine } from './engine.ts';
import { POLICY_NAMES } from './policies/registry.ts';

const PASSWORD = 'correct horse battery staple';

/** Text that breaks naive code: controls, bidi, lone surrogates, markup, long runs. */
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\uD800',
    'a\u202Eb',
    '<script>alert(1)</script>',
    '"quoted"@example.com',
    'ada@example.com\r\nX: y',
    'x'.repeat(5000),
    'tsr_garbage',
    'tss_garbage',
    'eyJhbGciOiJub25lIn0.e30.',
  ),
);
/** Any value a JavaScript caller might pass, hostile text most often. */
const anyValue = fc.oneof({ weight: 3, arbitrary: hostileText }, { weight: 1, arbitrary: fc.anything() });

/** Real values, so hostile ones reach past the first check. */
interface Good {
  email: string;
  accessToken: string;
  handle: string | null;
  userId: string;
}

/** Either a real value or a hostile one. */
const either = <T>(good: T) =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(good) }, { weight: 2, arbitrary: anyValue });

/** Calls one engine method with hostile arguments, mixed with real ones. */
const calls = (
  good: Good,
): fc.Arbitrary<{ name: string; run: (engine: Engine, auth: unknown) => Promise<unknown> }> => {
  const email = fc.oneof(either(good.email), fc.emailAddress());
  const password = fc.oneof(either(PASSWORD), hostileText);
  return fc.oneof(
    fc
      .record({ email, password, deviceName: anyValue, ip: anyValue, userAgent: anyValue })
      .map((input) => ({ name: 'register', run: (e: Engine) => e.register(input as never) })),
    fc
      .record({
        email,
        password,
        totp: anyValue,
        recoveryCode: anyValue,
        deviceName: anyValue,
        ip: anyValue,
        userAgent: anyValue,
      })
      .map((input) => ({ name: 'login', run: (e: Engine) => e.login(input as never) })),
    anyValue.map((input) => ({ name: 'login(any)', run: (e: Engine) => e.login(input as never) })),
    fc
      .record({ refreshToken: anyValue, ip: anyValue, userAgent: anyValue })
      .map((input) => ({ name: 'refresh', run: (e: Engine) => e.refresh(input as never) })),
    anyValue.map((t) => ({ name: 'authenticate', run: (e: Engine) => e.authenticate(t as never) })),
    anyValue.map((t) => ({ name: 'introspect', run: (e: Engine) => e.introspect(t as never) })),
    anyValue.map((t) => ({ name: 'revokeToken', run: (e: Engine) => e.revokeToken(t as never) })),
    fc.tuple(either(good.accessToken), anyValue).map(([t, c]) => ({
      name: 'renew',
      run: (e: Engine) => e.renew(t as never, c as never),
    })),
    fc.tuple(either(good.accessToken), either(good.handle)).map(([t, h]) => ({
      name: 'exchangeExpired',
      run: (e: Engine) => e.exchangeExpired(t as never, h as never),
    })),
    anyValue.map((t) => ({
      name: 'logoutWithRefreshToken',
      run: (e: Engine) => e.logoutWithRefreshToken(t as never),
    })),
    anyValue.map((t) => ({
      name: 'logoutWithSessionHandle',
      run: (e: Engine) => e.logoutWithSessionHandle(t as never),
    })),
    anyValue.map((t) => ({ name: 'findUserByEmail', run: (e: Engine) => e.findUserByEmail(t as never) })),
    anyValue.map((p) => ({
      name: 'updateProfile',
      run: (e: Engine, a: unknown) => e.updateProfile(a as never, p as never),
    })),
    fc
      .dictionary(fc.oneof(fc.constantFrom('name', 'phone_number'), hostileText), anyValue, { maxKeys: 3 })
      .map((p) => ({
        name: 'updateProfile(fields)',
        run: (e: Engine, a: unknown) => e.updateProfile(a as never, p),
      })),
    fc.tuple(password, password, anyValue).map(([c, n, client]) => ({
      name: 'changePassword',
      run: (e: Engine, a: unknown) => e.changePassword(a as never, c as never, n as never, client as never),
    })),
    fc
      .tuple(
        either(good.userId),
        fc.oneof(
          anyValue,
          fc.record(
            { roles: anyValue, profile: anyValue, disabled: anyValue, actingSessionId: anyValue },
            { requiredKeys: [] },
          ),
        ),
      )
      .map(([id, update]) => ({
        name: 'updateUser',
        run: (e: Engine) => e.updateUser(id as never, update as never),
      })),
    anyValue.map((code) => ({
      name: 'confirmTotp',
      run: (e: Engine, a: unknown) => e.confirmTotp(a as never, code as never),
    })),
    anyValue.map((code) => ({
      name: 'disableTotp',
      run: (e: Engine, a: unknown) => e.disableTotp(a as never, code as never),
    })),
    fc
      .oneof(
        anyValue,
        fc.record(
          { password: either(PASSWORD), totp: anyValue, recoveryCode: anyValue },
          { requiredKeys: [] },
        ),
      )
      .map((input) => ({
        name: 'reauthenticate',
        run: (e: Engine, a: unknown) => e.reauthenticate(a as never, input as never, input as never),
      })),
    fc.tuple(anyValue, anyValue).map(([maxAgeSeconds, acrValues]) => ({
      name: 'assertRecentAuthentication',
      run: async (e: Engine, a: unknown) =>
        e.assertRecentAuthentication(a as never, { maxAgeSeconds, acrValues } as never),
    })),
    anyValue.map((id) => ({
      name: 'getTwoFactorStatus',
      run: (e: Engine) => e.getTwoFactorStatus(id as never),
    })),
    anyValue.map((a) => ({ name: 'slide', run: (e: Engine) => e.slide(a as never) })),
  );
};

describe('hostile input to every engine method (property-based)', () => {
  for (const policy of POLICY_NAMES) {
    it(`${policy}: never throws anything but a 4xx TesseraError, and a refusal changes nothing`, async () => {
      const fixture = await createEngineFixture({
        policy,
        rateLimits: { loginPerIp: [{ limit: 1_000_000, windowSeconds: 60 }] },
      });
      const { engine, store } = fixture;
      const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
      // Two-factor login on, so hostile codes reach the TOTP and recovery-code checks.
      await enableTwoFactor(fixture, tokens.accessToken);
      const auth = await engine.authenticate(tokens.accessToken);
      const snapshot = async () => ({
        users: await store.listUsers(null, 100),
        sessions: await store.listLiveSessions(tokens.userId, 0),
      });
      const good: Good = {
        email: 'ada@example.com',
        accessToken: tokens.accessToken,
        handle: tokens.sessionHandle,
        userId: tokens.userId,
      };
      await fc.assert(
        fc.asyncProperty(calls(good), async ({ name, run }) => {
          const before = await snapshot();
          try {
            await run(engine, auth);
          } catch (error) {
            assert.ok(isTesseraError(error), `${name} threw ${String(error)}`);
            assert.ok(error.status >= 400 && error.status < 500, `${name}: ${error.code} ${error.message}`);
            assert.deepEqual(
              await snapshot(),
              before,
              `${name} refused with ${error.code} yet changed the store`,
            );
          }
        }),
        { numRuns: 400 },
      );
    });
  }
});
