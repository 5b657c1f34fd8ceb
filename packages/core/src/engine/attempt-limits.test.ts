import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createPasswordHasher, type PasswordHasher } from '../password.ts';
import { createEngineFixture, enableTwoFactor, TEST_ARGON2 } from '../testing/engine-fixture.ts';
import { totpCode } from '../totp.ts';

const PASSWORD = 'correct horse battery staple';
const WIDE = [{ limit: 10_000, windowSeconds: 60 }];

/** A real hasher that counts the verifications it makes (dummy ones included). */
function countingHasher(): { hasher: PasswordHasher; verifications: () => number } {
  const real = createPasswordHasher(TEST_ARGON2);
  let count = 0;
  return {
    verifications: () => count,
    hasher: {
      hash: (password) => real.hash(password),
      verify(phc, password) {
        count += 1;
        return real.verify(phc, password);
      },
      verifyDummy(password) {
        count += 1;
        return real.verifyDummy(password);
      },
    },
  };
}

async function settleCodes(attempts: Array<Promise<unknown>>): Promise<Map<string, number>> {
  const codes = new Map<string, number>();
  for (const result of await Promise.allSettled(attempts)) {
    const code =
      result.status === 'fulfilled' ? 'ok' : isTesseraError(result.reason) ? result.reason.code : 'thrown';
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  return codes;
}

// Issue 10, finding 5: the attempt is counted before the costly check, atomically.
describe('per-account attempt limits under concurrency', () => {
  it('evaluates at most the limit of 60 parallel wrong passwords', async () => {
    const { hasher, verifications } = countingHasher();
    const { engine, events } = await createEngineFixture({
      passwordHasher: hasher,
      rateLimits: { loginPerIp: WIDE, loginFailuresPerAccount: [{ limit: 5, windowSeconds: 60 }] },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const before = verifications();
    const codes = await settleCodes(
      Array.from({ length: 60 }, (_, i) =>
        engine.login({ email: 'ada@example.com', password: `wrong password ${i}`, ip: `10.0.${i}.1` }),
      ),
    );
    assert.equal(verifications() - before, 5);
    assert.deepEqual(Object.fromEntries(codes), { invalid_credentials: 5, rate_limited: 55 });
    assert.equal(events.filter((e) => e.type === 'login.failed').length, 5);
  });

  it('counts unknown accounts the same way', async () => {
    const { hasher, verifications } = countingHasher();
    const { engine } = await createEngineFixture({
      passwordHasher: hasher,
      rateLimits: { loginPerIp: WIDE, loginFailuresPerAccount: [{ limit: 5, windowSeconds: 60 }] },
    });
    await Promise.allSettled(
      Array.from({ length: 60 }, () =>
        engine.login({ email: 'nobody@example.com', password: 'wrong password!' }),
      ),
    );
    assert.equal(verifications(), 5);
  });

  it('answers a user without a password like a wrong password, at the same cost', async () => {
    const { hasher, verifications } = countingHasher();
    const { engine, store, events } = await createEngineFixture({ passwordHasher: hasher });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await store.updateUser(tokens.userId, { passwordHash: null, updatedAtMs: 0 });
    const before = verifications();
    const error = await engine.login({ email: 'ada@example.com', password: PASSWORD }).catch((e) => e);
    assert.equal(error.code, 'invalid_credentials');
    assert.equal(error.message, 'The email or password is incorrect.');
    assert.equal(verifications() - before, 1);
    assert.equal(events.filter((e) => e.type === 'login.failed').length, 1);
  });

  it('evaluates at most the limit of 60 parallel wrong TOTP codes', async () => {
    const { hasher, verifications } = countingHasher();
    const fixture = await createEngineFixture({
      passwordHasher: hasher,
      rateLimits: { loginPerIp: WIDE, loginFailuresPerAccount: [{ limit: 5, windowSeconds: 60 }] },
    });
    const { engine, clock, events } = fixture;
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const { secret } = await enableTwoFactor(fixture, tokens.accessToken);
    const right = totpCode(secret, clock.now());
    const wrong = right === '000000' ? '111111' : '000000';
    const before = verifications();
    const codes = await settleCodes(
      Array.from({ length: 60 }, () =>
        engine.login({ email: 'ada@example.com', password: PASSWORD, totp: wrong }),
      ),
    );
    assert.equal(verifications() - before, 5);
    assert.deepEqual(Object.fromEntries(codes), { invalid_totp: 5, rate_limited: 55 });
    assert.equal(events.filter((e) => e.type === 'login.failed').length, 5);
  });

  it('forgets the attempts after a success, and refuses even the right password past the limit', async () => {
    const { engine } = await createEngineFixture({
      rateLimits: { loginPerIp: WIDE, loginFailuresPerAccount: [{ limit: 5, windowSeconds: 3600 }] },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const wrong = () => engine.login({ email: 'ada@example.com', password: 'wrong password!' });
    for (let i = 0; i < 4; i += 1) await assert.rejects(wrong(), { code: 'invalid_credentials' });
    await engine.login({ email: 'ada@example.com', password: PASSWORD });
    for (let i = 0; i < 5; i += 1) await assert.rejects(wrong(), { code: 'invalid_credentials' });
    await assert.rejects(wrong(), { code: 'rate_limited' });
    await assert.rejects(engine.login({ email: 'ada@example.com', password: PASSWORD }), {
      code: 'rate_limited',
    });
  });

  it('evaluates at most the limit of 60 parallel wrong current passwords on a password change', async () => {
    const { hasher, verifications } = countingHasher();
    const { engine } = await createEngineFixture({
      passwordHasher: hasher,
      rateLimits: {
        loginFailuresPerAccount: [{ limit: 5, windowSeconds: 60 }],
        passwordChangePerIp: WIDE,
      },
    });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const before = verifications();
    const codes = await settleCodes(
      Array.from({ length: 60 }, (_, i) =>
        engine.changePassword(auth, `wrong password ${i}`, 'a brand new passphrase', { ip: '10.0.0.1' }),
      ),
    );
    assert.equal(verifications() - before, 5);
    assert.deepEqual(Object.fromEntries(codes), { invalid_credentials: 5, rate_limited: 55 });
  });

  it('limits password changes per client IP', async () => {
    const { engine } = await createEngineFixture({
      rateLimits: { loginFailuresPerAccount: WIDE, passwordChangePerIp: [{ limit: 2, windowSeconds: 60 }] },
    });
    const a = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const b = await engine.register({ email: 'bob@example.com', password: PASSWORD });
    const attempt = async (tokens: typeof a, ip: string) =>
      engine.changePassword(
        await engine.authenticate(tokens.accessToken),
        'wrong password!',
        'a new passphrase',
        {
          ip,
        },
      );
    await assert.rejects(attempt(a, '203.0.113.7'), { code: 'invalid_credentials' });
    await assert.rejects(attempt(b, '203.0.113.7'), { code: 'invalid_credentials' });
    await assert.rejects(attempt(a, '203.0.113.7'), { code: 'rate_limited' });
    await assert.rejects(attempt(b, '203.0.113.8'), { code: 'invalid_credentials' });
  });
});

describe('per-IP limits group clients the way addresses are handed out', () => {
  it('counts an IPv6 /64 as one client, and an IPv4-mapped address as its IPv4 address', async () => {
    const { engine } = await createEngineFixture({
      rateLimits: { loginPerIp: [{ limit: 3, windowSeconds: 60 }], loginFailuresPerAccount: WIDE },
    });
    const login = (ip: string) =>
      engine.login({ email: 'nobody@example.com', password: 'wrong password!', ip });
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0:0:0:9']) {
      await assert.rejects(login(ip), { code: 'invalid_credentials' });
    }
    await assert.rejects(login('2001:db8:1:2::abcd'), { code: 'rate_limited' });
    await assert.rejects(login('2001:db8:1:3::1'), { code: 'invalid_credentials' });
    for (const ip of ['192.0.2.1', '::ffff:192.0.2.1', '::FFFF:c000:0201']) {
      await assert.rejects(login(ip), { code: 'invalid_credentials' });
    }
    await assert.rejects(login('192.0.2.1'), { code: 'rate_limited' });
    await assert.rejects(login('192.0.2.2'), { code: 'invalid_credentials' });
  });
});
