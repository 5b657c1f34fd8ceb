import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createSqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { createEngineFixture, type EngineFixture, enableTwoFactor } from '../testing/engine-fixture.ts';
import { totpCode } from '../totp.ts';

const PASSWORD = 'correct horse battery staple';
const EMAIL = 'ada@example.com';
const STEP_MS = 30_000;
const WIDE = [{ limit: 10_000, windowSeconds: 60 }];

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (error: unknown) => (isTesseraError(error) ? error.code : `thrown: ${String(error)}`),
  );
}

async function tally(attempts: Array<Promise<unknown>>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const code of await Promise.all(attempts.map(codeOf))) out[code] = (out[code] ?? 0) + 1;
  return out;
}

/** A six-digit code that is not `secret`'s code at `atMs`. */
function wrongCode(secret: string, atMs: number): string {
  const right = totpCode(secret, atMs);
  return right === '000000' ? '111111' : '000000';
}

async function userWithTwoFactor(options: Parameters<typeof createEngineFixture>[0] = {}) {
  const fixture = await createEngineFixture(options);
  const tokens = await fixture.engine.register({ email: EMAIL, password: PASSWORD });
  const { secret, recoveryCodes } = await enableTwoFactor(fixture, tokens.accessToken);
  return { ...fixture, tokens, secret, recoveryCodes };
}

const login = (fixture: Pick<EngineFixture, 'engine'>, extra: { totp?: string; recoveryCode?: string }) =>
  fixture.engine.login({ email: EMAIL, password: PASSWORD, ...extra });

describe('TOTP enrolment', () => {
  it('stores a sealed pending secret, confirms it with ten recovery codes, and then requires a code to sign in', async () => {
    const { engine, store, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    assert.deepEqual(await engine.getTwoFactorStatus(tokens.userId), {
      enabled: false,
      pending: false,
      recoveryCodesRemaining: 0,
    });

    const first = await engine.enrollTotp(auth);
    const second = await engine.enrollTotp(auth);
    assert.notEqual(first.secret, second.secret, 'a new pending secret each call');
    assert.match(second.secret, /^[A-Z2-7]{32}$/);
    const uri = new URL(second.uri);
    assert.equal(uri.searchParams.get('secret'), second.secret);
    assert.equal(decodeURIComponent(uri.pathname), `/127.0.0.1:4000:${EMAIL}`);
    const pending = (await store.findUserById(tokens.userId))?.totpPendingSecret ?? '';
    assert.match(pending, /^v1\./, 'sealed');
    assert.ok(!pending.includes(second.secret), 'never in the clear');
    assert.deepEqual(await engine.getTwoFactorStatus(tokens.userId), {
      enabled: false,
      pending: true,
      recoveryCodesRemaining: 0,
    });

    // The replaced secret's code no longer confirms.
    const stale = totpCode(first.secret, clock.now());
    if (stale !== totpCode(second.secret, clock.now())) {
      assert.equal(await codeOf(engine.confirmTotp(auth, stale)), 'invalid_totp');
    }
    const { recoveryCodes } = await engine.confirmTotp(auth, totpCode(second.secret, clock.now()));
    assert.equal(recoveryCodes.length, 10);
    assert.equal(new Set(recoveryCodes).size, 10);
    for (const code of recoveryCodes)
      assert.match(code, /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    const stored = await store.findUserById(tokens.userId);
    assert.equal(stored?.totpPendingSecret, null);
    assert.equal(stored?.totpSecret, pending, 'the pending secret became the secret, still sealed');
    assert.deepEqual(await engine.getTwoFactorStatus(tokens.userId), {
      enabled: true,
      pending: false,
      recoveryCodesRemaining: 10,
    });
    assert.equal((await engine.getProfile(tokens.userId)).twoFactor, true);

    clock.advance(STEP_MS);
    assert.equal(await codeOf(login({ engine }, {})), 'totp_required');
    const ok = await login({ engine }, { totp: totpCode(second.secret, clock.now()) });
    const claims = (await engine.authenticate(ok.accessToken)).claims;
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.acr, '2');
  });

  it('refuses to confirm without an enrolment, to enrol or confirm twice, and a wrong code, changing nothing', async () => {
    const { engine, store, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    assert.equal(await codeOf(engine.confirmTotp(auth, '123456')), 'mfa_not_enabled');
    assert.equal(await codeOf(engine.regenerateRecoveryCodes(auth)), 'mfa_not_enabled');
    assert.equal(await codeOf(engine.disableTotp(auth, '123456')), 'mfa_not_enabled');
    const { secret } = await engine.enrollTotp(auth);
    const before = await store.findUserById(tokens.userId);
    for (const code of [wrongCode(secret, clock.now()), '', 'abcdef', '1234567']) {
      assert.equal(await codeOf(engine.confirmTotp(auth, code)), 'invalid_totp', code);
    }
    for (const code of [123456, null, undefined, ['123456']]) {
      assert.equal(await codeOf(engine.confirmTotp(auth, code as never)), 'invalid_request');
    }
    assert.deepEqual(await store.findUserById(tokens.userId), before);
    await engine.confirmTotp(auth, totpCode(secret, clock.now()));
    assert.equal(await codeOf(engine.enrollTotp(auth)), 'mfa_already_enabled');
    assert.equal(
      await codeOf(engine.confirmTotp(auth, totpCode(secret, clock.now()))),
      'mfa_already_enabled',
    );
  });

  it('never lets the confirming code sign in, and of two concurrent confirmations one wins', async () => {
    const { engine, clock } = await createEngineFixture();
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const { secret } = await engine.enrollTotp(auth);
    const code = totpCode(secret, clock.now());
    const results = await Promise.all(
      [engine.confirmTotp(auth, code), engine.confirmTotp(auth, code)].map(codeOf),
    );
    assert.deepEqual(results.sort(), ['invalid_totp', 'ok']);
    assert.equal(await codeOf(login({ engine }, { totp: code })), 'invalid_totp', 'RFC 6238 §5.2: once');
  });
});

describe('TOTP codes at sign-in', () => {
  it('accepts each code once: no replay within its step, nor of an earlier step', async () => {
    const fixture = await userWithTwoFactor();
    const { engine, clock, secret, events } = fixture;
    const now = totpCode(secret, clock.now());
    await login(fixture, { totp: now });
    assert.equal(await codeOf(login(fixture, { totp: now })), 'invalid_totp', 'the same code, same step');
    clock.advance(10_000);
    if (totpCode(secret, clock.now()) === now) {
      assert.equal(await codeOf(login(fixture, { totp: now })), 'invalid_totp', 'later in the same step');
    }
    const earlier = totpCode(secret, clock.now() - STEP_MS);
    assert.equal(
      await codeOf(login(fixture, { totp: earlier })),
      'invalid_totp',
      'an earlier step, in the window',
    );
    assert.equal(events.filter((e) => e.type === 'login.failed').length >= 2, true);
    clock.advance(STEP_MS);
    await login(fixture, { totp: totpCode(secret, clock.now()) });
    assert.equal(await engine.getTwoFactorStatus(fixture.tokens.userId).then((s) => s.enabled), true);
  });

  it('accepts the steps one either side of now, and none further', async () => {
    const fixture = await userWithTwoFactor();
    const { clock, secret } = fixture;
    clock.advance(10 * STEP_MS);
    const t = clock.now();
    for (const delta of [-3, -2, 2, 3]) {
      const code = totpCode(secret, t + delta * STEP_MS);
      if ([-1, 0, 1].some((d) => totpCode(secret, t + d * STEP_MS) === code)) continue;
      assert.equal(await codeOf(login(fixture, { totp: code })), 'invalid_totp', `step ${delta}`);
    }
    // Ascending, each step is later than the last accepted one.
    for (const delta of [-1, 0, 1]) {
      assert.equal(
        await codeOf(login(fixture, { totp: totpCode(secret, t + delta * STEP_MS) })),
        'ok',
        `step ${delta}`,
      );
    }
  });

  it('after a code from one step ahead (a fast clock), refuses the current step until time catches up', async () => {
    const fixture = await userWithTwoFactor();
    const { clock, secret } = fixture;
    await login(fixture, { totp: totpCode(secret, clock.now() + STEP_MS) });
    const current = totpCode(secret, clock.now());
    if (current !== totpCode(secret, clock.now() + STEP_MS)) {
      assert.equal(await codeOf(login(fixture, { totp: current })), 'invalid_totp');
    }
    clock.advance(2 * STEP_MS);
    assert.equal(await codeOf(login(fixture, { totp: totpCode(secret, clock.now()) })), 'ok');
  });

  it('ignores a code sent for an account without two-factor login', async () => {
    const { engine } = await createEngineFixture();
    await engine.register({ email: EMAIL, password: PASSWORD });
    const tokens = await login({ engine }, { totp: '123456' });
    assert.deepEqual((await engine.authenticate(tokens.accessToken)).claims.amr, ['pwd']);
    assert.equal(await codeOf(login({ engine }, { totp: '1', recoveryCode: '2' })), 'invalid_request');
    assert.equal(await codeOf(login({ engine }, { totp: 123456 as never })), 'invalid_request');
  });

  it('refuses a disabled account before the code, which stays unused', async () => {
    const fixture = await userWithTwoFactor();
    const { engine, clock, secret, tokens } = fixture;
    await engine.updateUser(tokens.userId, { disabled: true });
    const code = totpCode(secret, clock.now());
    assert.equal(await codeOf(login(fixture, { totp: code })), 'account_disabled');
    await engine.updateUser(tokens.userId, { disabled: false });
    assert.equal(await codeOf(login(fixture, { totp: code })), 'ok');
  });

  it('reads a secret stored in the clear by an earlier engine; a sealed one opens only in its own row', async () => {
    const store = createMemoryStore();
    const fixture = await userWithTwoFactor({ store });
    const { clock, secret, tokens } = fixture;
    const sealed = (await store.findUserById(tokens.userId))?.totpSecret ?? null;
    await store.updateUser(tokens.userId, { totpSecret: secret, updatedAtMs: clock.now() });
    assert.equal(await codeOf(login(fixture, { totp: totpCode(secret, clock.now()) })), 'ok');

    // A sealed secret copied into another user's row does not open there either.
    const mallory = await fixture.engine.register({ email: 'mallory@example.com', password: PASSWORD });
    await store.updateUser(mallory.userId, { totpSecret: sealed, updatedAtMs: clock.now() });
    const stolen = fixture.engine.login({
      email: 'mallory@example.com',
      password: PASSWORD,
      totp: totpCode(secret, clock.now()),
    });
    assert.equal(await codeOf(stolen), 'totp_unavailable', 'a tampered row: never a code accepted');
  });
});

describe('recovery codes', () => {
  it('sign in once each, in any case and with or without separators', async () => {
    const fixture = await userWithTwoFactor();
    const { engine, recoveryCodes, tokens, events } = fixture;
    const [first = '', second = '', third = ''] = recoveryCodes;
    const ok = await login(fixture, { recoveryCode: first });
    assert.deepEqual((await engine.authenticate(ok.accessToken)).claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(await codeOf(login(fixture, { recoveryCode: first })), 'invalid_recovery_code');
    await login(fixture, { recoveryCode: second.toUpperCase().replaceAll('-', ' ') });
    await login(fixture, { recoveryCode: third.replaceAll('-', '') });
    assert.equal((await engine.getTwoFactorStatus(tokens.userId)).recoveryCodesRemaining, 7);
    assert.equal(events.filter((e) => e.type === 'mfa.recovery_code_used').length, 3);
    for (const code of ['', 'not-a-code', 'x'.repeat(10_000), `${first}0`]) {
      assert.equal(await codeOf(login(fixture, { recoveryCode: code })), 'invalid_recovery_code');
    }
  });

  it('are used once under concurrency: 20 parallel sign-ins with one code over SQLite, one succeeds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-mfa-'));
    const store = createSqliteStore({ path: join(dir, 'tessera.db') });
    try {
      const fixture = await userWithTwoFactor({ store });
      const [code = ''] = fixture.recoveryCodes;
      const results = await tally(Array.from({ length: 20 }, () => login(fixture, { recoveryCode: code })));
      assert.deepEqual(results, { ok: 1, invalid_recovery_code: 19 });
      assert.equal(
        (await fixture.engine.getTwoFactorStatus(fixture.tokens.userId)).recoveryCodesRemaining,
        9,
      );
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are replaced whole by a regeneration', async () => {
    const fixture = await userWithTwoFactor();
    const { engine, tokens, recoveryCodes, events } = fixture;
    const auth = await engine.authenticate(tokens.accessToken);
    const fresh = await engine.regenerateRecoveryCodes(auth);
    assert.equal(fresh.recoveryCodes.length, 10);
    assert.equal(
      fresh.recoveryCodes.some((code) => recoveryCodes.includes(code)),
      false,
    );
    assert.equal(
      await codeOf(login(fixture, { recoveryCode: recoveryCodes[0] ?? '' })),
      'invalid_recovery_code',
    );
    assert.equal(await codeOf(login(fixture, { recoveryCode: fresh.recoveryCodes[0] ?? '' })), 'ok');
    assert.equal(events.filter((e) => e.type === 'mfa.recovery_codes_regenerated').length, 1);
  });
});

/** A store that counts the second-factor checks that reach it. */
function countingStore(store: Store): { store: Store; checks: () => number } {
  let checks = 0;
  return {
    checks: () => checks,
    store: {
      ...store,
      capabilities: store.capabilities,
      acceptTotpStep(userId, step) {
        checks += 1;
        return store.acceptTotpStep(userId, step);
      },
      useRecoveryCode(userId, hash, atMs) {
        checks += 1;
        return store.useRecoveryCode(userId, hash, atMs);
      },
    },
  };
}

describe('attempts are counted per account before any code is checked', () => {
  const LIMITED = { loginPerIp: WIDE, loginFailuresPerAccount: [{ limit: 5, windowSeconds: 60 }] };

  it('checks at most the limit of 60 parallel wrong recovery codes at sign-in', async () => {
    const counting = countingStore(createMemoryStore());
    const fixture = await userWithTwoFactor({ store: counting.store, rateLimits: LIMITED });
    const before = counting.checks();
    const results = await tally(
      Array.from({ length: 60 }, (_, i) =>
        login(fixture, { recoveryCode: `wrng-code-${String(i).padStart(4, '0')}-0000` }),
      ),
    );
    assert.deepEqual(results, { invalid_recovery_code: 5, rate_limited: 55 });
    assert.ok(counting.checks() - before <= 5, `${counting.checks() - before} checks`);
  });

  it('checks at most the limit of 60 parallel wrong codes turning two-factor login off', async () => {
    const counting = countingStore(createMemoryStore());
    const fixture = await userWithTwoFactor({ store: counting.store, rateLimits: LIMITED });
    const auth = await fixture.engine.authenticate(fixture.tokens.accessToken);
    const before = counting.checks();
    const wrong = wrongCode(fixture.secret, fixture.clock.now());
    const results = await tally(
      Array.from({ length: 60 }, (_, i) =>
        fixture.engine.disableTotp(auth, i % 2 ? wrong : `wrng-code-${String(i).padStart(4, '0')}-0000`),
      ),
    );
    assert.equal((results.invalid_totp ?? 0) + (results.invalid_recovery_code ?? 0), 5);
    assert.equal(results.rate_limited, 55);
    assert.ok(counting.checks() - before <= 5);
    assert.equal((await fixture.engine.getTwoFactorStatus(fixture.tokens.userId)).enabled, true);
  });

  it('checks at most the limit of 60 parallel wrong confirmation codes', async () => {
    const { engine, clock } = await createEngineFixture({ rateLimits: LIMITED });
    const tokens = await engine.register({ email: EMAIL, password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const { secret } = await engine.enrollTotp(auth);
    const results = await tally(
      Array.from({ length: 60 }, () => engine.confirmTotp(auth, wrongCode(secret, clock.now()))),
    );
    assert.deepEqual(results, { invalid_totp: 5, rate_limited: 55 });
    // Even the right code waits out the backoff.
    assert.equal(await codeOf(engine.confirmTotp(auth, totpCode(secret, clock.now()))), 'rate_limited');
  });
});

describe('turning two-factor login off', () => {
  it('takes a current TOTP code or a recovery code, then clears the secret and every recovery code', async () => {
    for (const kind of ['totp', 'recovery_code'] as const) {
      const fixture = await userWithTwoFactor();
      const { engine, store, clock, secret, recoveryCodes, tokens, events } = fixture;
      const auth = await engine.authenticate(tokens.accessToken);
      const wrong = kind === 'totp' ? wrongCode(secret, clock.now()) : 'zzzz-zzzz-zzzz-zzzz';
      assert.equal(
        await codeOf(engine.disableTotp(auth, wrong)),
        kind === 'totp' ? 'invalid_totp' : 'invalid_recovery_code',
      );
      assert.equal((await engine.getTwoFactorStatus(tokens.userId)).enabled, true);
      await engine.disableTotp(
        auth,
        kind === 'totp' ? totpCode(secret, clock.now()) : (recoveryCodes[4] ?? ''),
      );
      assert.deepEqual(await engine.getTwoFactorStatus(tokens.userId), {
        enabled: false,
        pending: false,
        recoveryCodesRemaining: 0,
      });
      assert.equal(await store.countRecoveryCodes(tokens.userId), 0);
      const stored = await store.findUserById(tokens.userId);
      assert.equal(stored?.totpSecret, null);
      assert.equal(events.filter((e) => e.type === 'mfa.disabled').length, 1);
      const plain = await login(fixture, {});
      assert.deepEqual((await engine.authenticate(plain.accessToken)).claims.amr, ['pwd']);
      assert.equal(
        await codeOf(login(fixture, { recoveryCode: recoveryCodes[0] ?? '' })),
        'ok',
        'ignored now',
      );
    }
  });
});

describe('recent authentication for two-factor changes', () => {
  it('refuses enrolment, confirmation, regeneration and disabling once auth_time is past the max age', async () => {
    const fixture = await userWithTwoFactor({ reauthMaxAgeSeconds: 60 });
    const { engine, clock, tokens, secret } = fixture;
    // enableTwoFactor moved the clock 30 s; 31 s more makes the sign-in 61 s old.
    clock.advance(31_000);
    const auth = await engine.authenticate(tokens.accessToken);
    for (const run of [
      () => engine.regenerateRecoveryCodes(auth),
      () => engine.disableTotp(auth, totpCode(secret, clock.now())),
      () => engine.enrollTotp(auth),
      () => engine.confirmTotp(auth, '123456'),
    ]) {
      const error = await run().catch((e: unknown) => e);
      assert.ok(isTesseraError(error));
      assert.equal(error.code, 'insufficient_user_authentication');
      assert.equal((error as unknown as { maxAgeSeconds: number }).maxAgeSeconds, 60);
    }
    assert.equal((await engine.getTwoFactorStatus(tokens.userId)).enabled, true);
    const renewed = await engine.reauthenticate(auth, { totp: totpCode(secret, clock.now()) });
    await engine.regenerateRecoveryCodes(await engine.authenticate(renewed.accessToken));
  });
});
